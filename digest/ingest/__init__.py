"""Ingest: read companies, items and AMW Reads (YAML, JSON, JSON Lines, RSS/Atom/JSON Feed,
URLs) and subscriber lists (CSV, YAML), validating everything before anything is written.

The readers raise `InputError` listing every problem found; `check_sources` and `read_sources`
raise `ServiceError` when a URL's server cannot be reached at all. `check_sources` keeps memory
flat however large the input (its `Checked` result streams to `Store.write_records`).
"""

from digest.ingest.fetch import Loaded
from digest.ingest.readers import Checked, check_loaded, check_sources, read_bodies, read_sources
from digest.ingest.subscribers import read_subscriber_files, read_subscribers
from digest.ingest.validate import Batch, TopicRules

__all__ = [
    "Batch",
    "Checked",
    "Loaded",
    "TopicRules",
    "check_loaded",
    "check_sources",
    "read_bodies",
    "read_sources",
    "read_subscriber_files",
    "read_subscribers",
]
