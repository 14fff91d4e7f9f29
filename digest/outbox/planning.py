"""Planning: one row per (digest, recipient) or (post, channel), inserted once.

A million rows are inserted in chunks inside one transaction, each chunk one statement the
driver does not have to re-parse: on PostgreSQL an `INSERT … SELECT FROM unnest(arrays)` (seven
array parameters, whatever the chunk's size), on SQLite one prepared INSERT run by the driver's
`executemany`. Values are prepared for the driver here, which SQLAlchemy would otherwise do per
row and per column.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from digest.models import DeliveryChannel, DeliveryState
from digest.outbox.rows import state_is, writing
from digest.store import events
from digest.store.events import Event
from digest.store.schema import deliveries


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    idempotency_key: str
    digest_key: str
    channel: DeliveryChannel
    target: str
    payload: Mapping[str, Any]
    is_test: bool = False
    # When the row falls due: a subscriber's local hour, a post's slot; None is at once (`now`).
    available_at: datetime | None = None


PLAN_CHUNK = 5000  # rows per statement: a million-row plan never sits in memory at once

_COLUMNS = "idempotency_key, digest_key, channel, target, payload, is_test, available_at"
_FIXED = "state, attempts, unanswered, created_at, updated_at"
_PLANNED = f"'{DeliveryState.PLANNED.value}', 0, 0"

_POSTGRES = f"""
INSERT INTO deliveries ({_COLUMNS}, {_FIXED})
SELECT k, d, c, t, p::jsonb, x, a, {_PLANNED}, %(now)s, %(now)s
FROM unnest(%(k)s::text[], %(d)s::text[], %(c)s::text[], %(t)s::text[], %(p)s::text[],
            %(x)s::boolean[], %(a)s::timestamptz[]) AS planned (k, d, c, t, p, x, a)
ON CONFLICT (idempotency_key) DO NOTHING
"""

_SQLITE = f"""
INSERT INTO deliveries ({_COLUMNS}, {_FIXED})
VALUES (?, ?, ?, ?, ?, ?, ?, {_PLANNED}, ?, ?)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def plan(
    engine: Engine, rows: Iterable[PlannedDelivery], *, now: datetime, event: Event | None = None
) -> int:
    """Insert the rows not planned before, in one transaction; how many were new.

    `rows` is consumed a chunk at a time, so it may be a generator over a million subscribers.
    `event` (digest.planned) is written in the same transaction when any row was new.
    """
    insert = _insert_postgres if engine.dialect.name == "postgresql" else _insert_sqlite
    new = 0
    stream = iter(rows)
    with writing(engine) as connection:
        while chunk := list(itertools.islice(stream, PLAN_CHUNK)):
            new += insert(connection, chunk, now)
        if event is not None and new:
            events.emit(connection, event, now)
    return new


def _insert_postgres(connection: Connection, chunk: list[PlannedDelivery], now: datetime) -> int:
    columns: dict[str, list[Any]] = {name: [] for name in "kdctpxa"}
    payloads = _Payloads()
    for row in chunk:
        columns["k"].append(row.idempotency_key)
        columns["d"].append(row.digest_key)
        columns["c"].append(row.channel.value)
        columns["t"].append(row.target)
        columns["p"].append(payloads.text(row.payload))
        columns["x"].append(row.is_test)
        columns["a"].append(row.available_at or now)
    result = connection.exec_driver_sql(_POSTGRES, {**columns, "now": now})
    return int(result.rowcount)


def _insert_sqlite(connection: Connection, chunk: list[PlannedDelivery], now: datetime) -> int:
    stored = _Times(connection)
    payloads = _Payloads()
    planned_at = stored.text(now)
    values = [
        (
            row.idempotency_key,
            row.digest_key,
            row.channel.value,
            row.target,
            payloads.text(row.payload),
            row.is_test,
            stored.text(row.available_at or now),
            planned_at,
            planned_at,
        )
        for row in chunk
    ]
    return int(connection.exec_driver_sql(_SQLITE, values).rowcount)


class _Payloads:
    """JSON text of each payload; the empty one of every email row encoded once."""

    def __init__(self) -> None:
        self._empty = json.dumps({})

    def text(self, payload: Mapping[str, Any]) -> str:
        return json.dumps(dict(payload)) if payload else self._empty


class _Times:
    """A time as SQLite stores it (the column type's own conversion to a naive UTC datetime,
    then the text sqlite3's adapter would make of it), each distinct time once: most rows of a
    plan share `now` or a handful of local hours."""

    def __init__(self, connection: Connection) -> None:
        processor = deliveries.c.available_at.type.bind_processor(connection.dialect)
        assert processor is not None
        self._convert: Callable[[datetime], datetime] = processor
        self._seen: dict[datetime, str] = {}

    def text(self, moment: datetime) -> str:
        found = self._seen.get(moment)
        if found is None:
            found = self._seen[moment] = self._convert(moment).isoformat(" ")
        return found


def count_unplanned(engine: Engine, keys: Iterable[str]) -> int:
    """How many of these idempotency keys have no row yet (what planning them would add)."""
    unplanned = 0
    with engine.connect() as connection:
        stream: Iterator[str] = iter(keys)
        while chunk := list(itertools.islice(stream, 500)):
            query = select(func.count()).where(deliveries.c.idempotency_key.in_(chunk))
            unplanned += len(chunk) - int(connection.scalar(query) or 0)
    return unplanned


def due_now(engine: Engine, digest_key: str, channel: DeliveryChannel, now: datetime) -> int:
    """The digest's planned rows of `channel` that fall due after `now` made due at `now`
    (`digest send --now`); how many."""
    columns = deliveries.c
    statement = (
        update(deliveries)
        .where(
            columns.digest_key == digest_key,
            columns.channel == channel.value,
            state_is(DeliveryState.PLANNED),
            columns.available_at > now,
        )
        .values(available_at=now, updated_at=now)
    )
    with writing(engine) as connection:
        return int(connection.execute(statement).rowcount)
