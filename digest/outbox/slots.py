"""Posting slots: when a channel's posts fall due, one post per slot.

A slot is a local time of day in the channel's time zone, turned into an instant day by day
with zoneinfo, so a slot stays at 09:00 on the wall clock across a change of summer time. A
time the clocks skip (02:30 on the night they go forward) falls as far past the gap's start
(03:30); a time they pass twice is taken the first time. The slots a channel's posts already
hold (its rows' `available_at`, whatever digest they belong to) are read through the posts'
partial index.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, literal_column, select

from digest.models import DeliveryChannel, DeliveryState
from digest.store.schema import deliveries


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone`, as a UTC instant."""
    # fold=0: an ambiguous time is its first occurrence; a skipped one is read with the offset
    # before the gap, which lands it past the gap by as much as it was into it.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def slot_times(times: Sequence[time], zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Every slot at or after `after`, in order, day after day; nothing when `times` is empty."""
    if not times:
        return
    day = after.astimezone(zone).date()
    while True:
        # A set: two slots may meet at one instant on the day the clocks go forward.
        for instant in sorted({local_instant(day, at, zone) for at in times}):
            if instant >= after:
                yield instant
        day += timedelta(days=1)


def free_slots(
    times: Sequence[time],
    zone: ZoneInfo,
    after: datetime,
    count: int,
    taken: Collection[datetime],
) -> list[datetime]:
    """The first `count` slots at or after `after` that no post holds yet."""
    free = (slot for slot in slot_times(times, zone, after) if slot not in taken)
    return list(itertools.islice(free, count))


def slots_taken(engine: Engine, channel: str, since: datetime) -> set[datetime]:
    """The times at or after `since` that the channel's posts hold: planned, being posted or
    posted ahead of time (a skipped post gives its slot back)."""
    columns = deliveries.c
    query = select(columns.available_at).where(
        # A literal: SQLite uses the posts' partial index only when the WHERE names its value.
        columns.channel == literal_column(f"'{DeliveryChannel.SOCIAL.value}'"),
        columns.available_at >= since,
        columns.target == channel,
        columns.state != DeliveryState.SKIPPED.value,
    )
    with engine.connect() as connection:
        return set(connection.scalars(query))


def planned_times(engine: Engine, keys: Collection[str]) -> dict[str, datetime]:
    """When each of these rows that exists falls due, by idempotency key."""
    query = select(deliveries.c.idempotency_key, deliveries.c.available_at).where(
        deliveries.c.idempotency_key.in_(list(keys))
    )
    with engine.connect() as connection:
        return {key: at for key, at in connection.execute(query).all()}
