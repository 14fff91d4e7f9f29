"""The JSON API under /api/v1 (docs/api.md): items in, digests and deliveries out, subscribers,
outgoing webhooks; token-scoped, described by its own OpenAPI document at /api/v1/openapi.json."""

from digest.web.api.application import mount

__all__ = ["mount"]
