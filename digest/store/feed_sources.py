"""The feeds `schedules.ingest` pulls: what each server said identifies the version last read
(sent back as If-None-Match and If-Modified-Since), and when it was read and last changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from digest.store import schema
from digest.store.engine import dialect_insert, write_transaction


@dataclass(frozen=True, slots=True)
class FeedSource:
    url: str
    etag: str | None
    last_modified: str | None
    checked_at: datetime | None
    changed_at: datetime | None  # the last read that changed the store


def feed_source(engine: Engine, url: str) -> FeedSource | None:
    table = schema.feed_sources
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.url == url)).one_or_none()
    if row is None:
        return None
    return FeedSource(row.url, row.etag, row.last_modified, row.checked_at, row.changed_at)


def record_feed_read(
    engine: Engine,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    at: datetime,
    changed: bool,
) -> None:
    """Note a successful read (or a 304): its validators, when, and whether it changed anything."""
    table = schema.feed_sources
    values = {"url": url, "etag": etag, "last_modified": last_modified, "checked_at": at}
    statement = dialect_insert(engine, table).values(**values, changed_at=at if changed else None)
    update = {"etag": etag, "last_modified": last_modified, "checked_at": at}
    if changed:
        update["changed_at"] = at
    statement = statement.on_conflict_do_update(index_elements=[table.c.url], set_=update)
    with write_transaction(engine) as connection:
        connection.execute(statement)
