"""Each digest's real outbox rows counted (test-sends aside), read from `delivery_tallies`.

Triggers on `deliveries` keep the counts (migration 0016), so reading them costs a few rows a
digest however many subscribers it went to; a count is the sum of its writers' rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from digest.models import DeliveryChannel, DeliveryState
from digest.store.schema import delivery_tallies

CHUNK = 500  # digest keys in one IN list


@dataclass(frozen=True, slots=True)
class Tally:
    digest_key: str
    channel: DeliveryChannel
    state: DeliveryState
    available_at: datetime  # when the rows fall due (or next may be tried)
    target: str  # a post's social channel; "" for email
    rows: int


def tallies(
    engine: Engine,
    digest_keys: Collection[str],
    *,
    channel: DeliveryChannel | None = None,
    state: DeliveryState | None = None,
) -> Iterator[Tally]:
    """The counts of the given digests' rows, of one channel or state if given, earliest due
    first."""
    columns = delivery_tallies.c
    key = (columns.digest_key, columns.channel, columns.state, columns.available_at, columns.target)
    keys = sorted(digest_keys)
    with engine.connect() as connection:
        for start in range(0, len(keys), CHUNK):
            query = (
                select(*key, func.sum(columns.rows))
                .where(columns.digest_key.in_(keys[start : start + CHUNK]))
                .group_by(*key)
                .having(func.sum(columns.rows) != 0)
                .order_by(columns.available_at)
            )
            if channel is not None:
                query = query.where(columns.channel == channel.value)
            if state is not None:
                query = query.where(columns.state == state.value)
            for digest_key, kind, status, at, target, rows in connection.execute(query):
                yield Tally(
                    digest_key, DeliveryChannel(kind), DeliveryState(status), at, target, int(rows)
                )
