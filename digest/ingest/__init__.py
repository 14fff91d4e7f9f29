"""Ingest: read companies, items and AMW Reads (YAML, JSON, JSON Lines, RSS/Atom, URLs) and
subscriber lists (CSV, YAML), validating everything before anything is written.

Both readers raise `InputError` listing every problem found; `read_sources` raises
`ServiceError` when a URL's server cannot be reached at all.
"""

from digest.ingest.fetch import Loaded
from digest.ingest.readers import read_bodies, read_sources
from digest.ingest.subscribers import read_subscriber_files, read_subscribers
from digest.ingest.validate import Batch

__all__ = [
    "Batch",
    "Loaded",
    "read_bodies",
    "read_sources",
    "read_subscriber_files",
    "read_subscribers",
]
