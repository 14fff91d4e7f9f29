"""digest: weekly and per-company newsletter and social digests of AI-industry news."""

__version__ = "0.1.0"
