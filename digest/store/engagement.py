"""What readers did, in the store: raw events, hourly counts, and the readers of each digest.

`write_events` takes a whole batch (the web app's buffer) in one transaction: the raw events in
one executemany, the counts per (digest, channel, link, hour, kind, verdict) added to in one
executemany upsert, the readers inserted if new in another. Raw events are purged after the
retention period; with per-subscriber tracking, `forget` erases a subscriber's events and reader
rows in its own transaction (`forget_subscriber`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select

from digest.models import DeliveryChannel, DeliveryState
from digest.store.engine import dialect_insert
from digest.store.schema import engagement_counts, engagement_events, engagement_readers
from digest.store.tallies import tallies


@dataclass(frozen=True, slots=True)
class Event:
    """One judged hit, as stored."""

    at: datetime
    digest_key: str
    channel: str
    link: str
    kind: str  # click | open
    verdict: str  # reader | scanner | prefetch
    reason: str
    reader_key: str
    subscriber_id: str | None = None

    @property
    def hour(self) -> datetime:
        return self.at.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class LinkCount:
    """A digest's hits on one link of one channel, of one kind and verdict, summed over hours."""

    channel: str
    link: str
    kind: str
    verdict: str
    count: int


@dataclass(frozen=True, slots=True)
class HourCount:
    digest_key: str
    channel: str
    hour: datetime
    count: int


def write_events(engine: Engine, events: Sequence[Event]) -> None:
    """Store a batch of events and add them to the counts and readers, all in one transaction."""
    if not events:
        return
    counts = Counter(
        (event.digest_key, event.channel, event.link, event.hour, event.kind, event.verdict)
        for event in events
    )
    readers: dict[tuple[str, str, str], Event] = {}
    for event in events:
        if event.verdict == "reader":
            readers.setdefault((event.digest_key, event.channel, event.reader_key), event)
    upsert = dialect_insert(engine, engagement_counts)
    upsert = upsert.on_conflict_do_update(
        index_elements=[
            engagement_counts.c.digest_key,
            engagement_counts.c.channel,
            engagement_counts.c.link,
            engagement_counts.c.hour,
            engagement_counts.c.kind,
            engagement_counts.c.verdict,
        ],
        set_={"count": engagement_counts.c.count + upsert.excluded["count"]},
    )
    new_readers = dialect_insert(engine, engagement_readers).on_conflict_do_nothing()
    with engine.begin() as connection:
        connection.execute(
            insert(engagement_events),
            [
                {
                    "at": event.at,
                    "digest_key": event.digest_key,
                    "channel": event.channel,
                    "link": event.link,
                    "kind": event.kind,
                    "verdict": event.verdict,
                    "reason": event.reason,
                    "reader_key": event.reader_key,
                    "subscriber_id": event.subscriber_id,
                }
                for event in events
            ],
        )
        # In key order: two processes flushing at once take their row locks in the same order.
        connection.execute(
            upsert,
            [
                {
                    "digest_key": digest_key,
                    "channel": channel,
                    "link": link,
                    "hour": hour,
                    "kind": kind,
                    "verdict": verdict,
                    "count": count,
                }
                for (digest_key, channel, link, hour, kind, verdict), count in sorted(
                    counts.items()
                )
            ],
        )
        if readers:
            connection.execute(
                new_readers,
                [
                    {
                        "digest_key": event.digest_key,
                        "channel": event.channel,
                        "reader_key": event.reader_key,
                        "first_at": event.at,
                        "subscriber_id": event.subscriber_id,
                    }
                    for _, event in sorted(readers.items())
                ],
            )


def purge_events(engine: Engine, before: datetime) -> int:
    """Delete the raw events older than `before` (the counts stay); how many."""
    with engine.begin() as connection:
        return connection.execute(
            delete(engagement_events).where(engagement_events.c.at < before)
        ).rowcount


def forget_subscriber(connection: Connection, subscriber_id: str) -> None:
    """Erase a subscriber's events and reader rows, in the caller's transaction (the counts,
    which name nobody, stay)."""
    for table in (engagement_events, engagement_readers):
        connection.execute(delete(table).where(table.c.subscriber_id == subscriber_id))


def subscriber_events(connection: Connection, subscriber_id: str) -> list[dict[str, Any]]:
    """A subscriber's stored events, JSON-safe, for "download my data"."""
    query = (
        select(engagement_events)
        .where(engagement_events.c.subscriber_id == subscriber_id)
        .order_by(engagement_events.c.at, engagement_events.c.id)
    )
    return [
        {
            "at": row.at.isoformat(),
            "digest": row.digest_key,
            "channel": row.channel,
            "link": row.link,
            "kind": row.kind,
            "counted_as": row.verdict,
        }
        for row in connection.execute(query)
    ]


def link_counts(engine: Engine, digest_key: str) -> list[LinkCount]:
    counts = engagement_counts.c
    query = (
        select(counts.channel, counts.link, counts.kind, counts.verdict, func.sum(counts.count))
        .where(counts.digest_key == digest_key)
        .group_by(counts.channel, counts.link, counts.kind, counts.verdict)
        .order_by(counts.channel, counts.link, counts.kind, counts.verdict)
    )
    with engine.connect() as connection:
        return [LinkCount(*row[:4], int(row[4])) for row in connection.execute(query)]


def reader_counts(engine: Engine, digest_keys: Collection[str]) -> dict[str, dict[str, int]]:
    """{digest key: {channel: readers}}, plus the channel "" for readers on any channel."""
    readers = engagement_readers.c
    found: dict[str, dict[str, int]] = {key: {} for key in digest_keys}
    if not digest_keys:
        return found
    keys = sorted(digest_keys)
    with engine.connect() as connection:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            per_channel = (
                select(readers.digest_key, readers.channel, func.count())
                .where(readers.digest_key.in_(chunk))
                .group_by(readers.digest_key, readers.channel)
            )
            for digest_key, channel, count in connection.execute(per_channel):
                found[digest_key][channel] = int(count)
            anywhere = (
                select(readers.digest_key, func.count(func.distinct(readers.reader_key)))
                .where(readers.digest_key.in_(chunk))
                .group_by(readers.digest_key)
            )
            for digest_key, count in connection.execute(anywhere):
                found[digest_key][""] = int(count)
    return found


def delivered_counts(engine: Engine, digest_key: str) -> dict[str, int]:
    """{"email": messages sent, social channel: posts sent} for a digest (test-sends aside)."""
    found: Counter[str] = Counter()
    for tally in tallies(engine, [digest_key], state=DeliveryState.SENT):
        is_email = tally.channel is DeliveryChannel.EMAIL
        found[DeliveryChannel.EMAIL.value if is_email else tally.target] += tally.rows
    return dict(found)


def hour_counts(
    engine: Engine, *, since: datetime, kind: str = "click", verdict: str = "reader"
) -> list[HourCount]:
    """Hits of one kind and verdict per (digest, channel, hour) from `since` on."""
    counts = engagement_counts.c
    query = (
        select(counts.digest_key, counts.channel, counts.hour, func.sum(counts.count))
        .where(and_(counts.hour >= since, counts.kind == kind, counts.verdict == verdict))
        .group_by(counts.digest_key, counts.channel, counts.hour)
        .order_by(counts.hour)
    )
    with engine.connect() as connection:
        return [HourCount(*row[:3], int(row[3])) for row in connection.execute(query)]


def readers_by_digest(engine: Engine, key_prefix: str) -> dict[str, int]:
    """{digest key: unique readers on any channel} for the digests whose key starts so."""
    readers = engagement_readers.c
    query = (
        select(readers.digest_key, func.count(func.distinct(readers.reader_key)))
        .where(readers.digest_key.startswith(key_prefix, autoescape=True))
        .group_by(readers.digest_key)
    )
    with engine.connect() as connection:
        return {key: int(count) for key, count in connection.execute(query)}


def digest_totals(engine: Engine, digest_keys: Collection[str]) -> dict[str, tuple[int, int, int]]:
    """{digest key: (emails delivered, readers' clicks, scanners' clicks)} for many digests in
    two queries, the tallies and the clicks (test-sends aside); a digest with neither is
    (0, 0, 0)."""
    found = {key: [0, 0, 0] for key in digest_keys}
    keys = sorted(digest_keys)
    sent = tallies(engine, digest_keys, channel=DeliveryChannel.EMAIL, state=DeliveryState.SENT)
    for tally in sent:
        found[tally.digest_key][0] += tally.rows
    counts = engagement_counts.c
    with engine.connect() as connection:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            clicks = (
                select(counts.digest_key, counts.verdict, func.sum(counts.count))
                .where(counts.digest_key.in_(chunk), counts.kind == "click")
                .group_by(counts.digest_key, counts.verdict)
            )
            for key, verdict, count in connection.execute(clicks):
                found[key][1 if verdict == "reader" else 2] += int(count)
    return {key: (values[0], values[1], values[2]) for key, values in found.items()}
