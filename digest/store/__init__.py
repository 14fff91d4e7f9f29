"""The store: SQLAlchemy Core on SQLite (embedded default) or PostgreSQL, migrated by Alembic."""

from digest.store.codec import (
    digest_from_dict,
    digest_to_dict,
    preferences_from_dict,
    preferences_to_dict,
)
from digest.store.store import BatchCounts, Counts, Store, SubscriberCounts

__all__ = [
    "BatchCounts",
    "Counts",
    "Store",
    "SubscriberCounts",
    "digest_from_dict",
    "digest_to_dict",
    "preferences_from_dict",
    "preferences_to_dict",
]
