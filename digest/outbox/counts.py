"""Counting rows: by state (reports, progress bars), and what a per-hour limit counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Engine, func, select

from digest.models import DeliveryChannel, DeliveryState
from digest.outbox.rows import state_is
from digest.store.schema import deliveries
from digest.store.tallies import tallies


def state_counts(engine: Engine, digest_keys: Collection[str] | None = None) -> dict[str, int]:
    """How many rows are in each state, for the given digests or all."""
    query = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    if digest_keys is not None:
        query = query.where(deliveries.c.digest_key.in_(list(digest_keys)))
    with engine.connect() as connection:
        return {state: count for state, count in connection.execute(query).all()}


def sent_since(engine: Engine, channel: DeliveryChannel, since: datetime) -> int:
    """Rows of `channel` sent since `since` or being sent now, by every worker: what a per-hour
    limit counts, so that several workers share one limit."""
    sent = select(func.count()).where(
        deliveries.c.channel == channel.value,
        state_is(DeliveryState.SENT),
        deliveries.c.finished_at >= since,
    )
    sending = select(func.count()).where(
        deliveries.c.channel == channel.value, state_is(DeliveryState.CLAIMED)
    )
    with engine.connect() as connection:
        return sum(int(connection.scalar(query) or 0) for query in (sent, sending))


def due_counts(engine: Engine, digest_key: str) -> list[tuple[datetime, int]]:
    """A digest's email rows for real recipients by when they fall due (`available_at`),
    earliest first: a few hundred distinct times for a million rows."""
    due: Counter[datetime] = Counter()
    for tally in tallies(engine, [digest_key], channel=DeliveryChannel.EMAIL):
        due[tally.available_at] += tally.rows
    return sorted(due.items())
