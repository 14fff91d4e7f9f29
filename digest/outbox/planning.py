"""Planning: one row per (digest, recipient) or (post, channel), inserted once.

A million rows are inserted in one transaction without holding them in memory. On PostgreSQL
they are streamed by a binary COPY (psycopg formats its rows in C) into a temporary table, then
moved in with one `INSERT … SELECT`: plainly, inside a savepoint, as the first plan of a digest
conflicts with nothing; with `ON CONFLICT DO NOTHING` when that fails on a key planned already.
On SQLite, a chunk at a time, one prepared INSERT run by the driver's `executemany`. Values are
prepared for the driver here, which SQLAlchemy would otherwise do per row and per column.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

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


PLAN_CHUNK = 5000  # rows per SQLite statement: a million-row plan never sits in memory at once

_COLUMNS = "idempotency_key, digest_key, channel, target, payload, is_test, available_at"
_FIXED = "state, attempts, unanswered, created_at, updated_at"
_PLANNED = f"'{DeliveryState.PLANNED.value}', 0, 0"

# The rows as given, dropped at commit. The payload is JSON text, NULL for the empty one of every
# email row: the server parses only the others.
_STAGE = """
CREATE TEMPORARY TABLE planned_deliveries (
    idempotency_key text, digest_key text, channel text, target text, payload text,
    is_test boolean, available_at timestamptz
) ON COMMIT DROP
"""
_STAGE_TYPES = ["text", "text", "text", "text", "text", "bool", "timestamptz"]
_COPY = "COPY planned_deliveries FROM STDIN (FORMAT BINARY)"
_FROM_STAGE = f"""
INSERT INTO deliveries ({_COLUMNS}, {_FIXED})
SELECT idempotency_key, digest_key, channel, target, COALESCE(payload::jsonb, '{{}}'),
       is_test, available_at, {_PLANNED}, %(now)s, %(now)s
FROM planned_deliveries
"""
_UNIQUE_VIOLATION = "23505"

_SQLITE = f"""
INSERT INTO deliveries ({_COLUMNS}, {_FIXED})
VALUES (?, ?, ?, ?, ?, ?, ?, {_PLANNED}, ?, ?)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def plan(
    engine: Engine, rows: Iterable[PlannedDelivery], *, now: datetime, event: Event | None = None
) -> int:
    """Insert the rows not planned before, in one transaction; how many were new.

    `rows` is consumed as it goes, so it may be a generator over a million subscribers.
    `event` (digest.planned) is written in the same transaction when any row was new.
    """
    with writing(engine) as connection:
        if engine.dialect.name == "postgresql":
            new = _plan_postgres(connection, rows, now)
        else:
            new = _plan_sqlite(connection, rows, now)
        if event is not None and new:
            events.emit(connection, event, now)
    return new


def _plan_postgres(connection: Connection, rows: Iterable[PlannedDelivery], now: datetime) -> int:
    connection.exec_driver_sql(_STAGE)
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(_COPY) as copy:
        copy.set_types(_STAGE_TYPES)
        for values in _values(rows, now, _Payloads(empty=None), _as_given):
            copy.write_row(values)
    # Without ON CONFLICT each row is a plain insert, not a speculative one checked and then
    # confirmed (a third less of the server's time for a first plan). Any key planned before, or
    # twice here, undoes the savepoint, and the rows go in again skipping those: a re-plan fails
    # at its first row, which is planned already.
    try:
        with connection.begin_nested():
            return int(connection.exec_driver_sql(_FROM_STAGE, {"now": now}).rowcount)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
    skipping = _FROM_STAGE + "ON CONFLICT (idempotency_key) DO NOTHING"
    return int(connection.exec_driver_sql(skipping, {"now": now}).rowcount)


def _plan_sqlite(connection: Connection, rows: Iterable[PlannedDelivery], now: datetime) -> int:
    stored = _Times(connection)
    planned_at = stored.text(now)
    values = _values(rows, now, _Payloads(), stored.text)
    new = 0
    while chunk := [(*row, planned_at, planned_at) for row in itertools.islice(values, PLAN_CHUNK)]:
        new += int(connection.exec_driver_sql(_SQLITE, chunk).rowcount)
    return new


def _values(
    rows: Iterable[PlannedDelivery],
    now: datetime,
    payloads: _Payloads,
    moment: Callable[[datetime], Any],
) -> Iterator[tuple[Any, ...]]:
    """Each row's values of _COLUMNS, as the driver is given them."""
    for row in rows:
        yield (
            row.idempotency_key,
            row.digest_key,
            row.channel.value,
            row.target,
            payloads.text(row.payload),
            row.is_test,
            moment(row.available_at or now),
        )


def _as_given(moment: datetime) -> datetime:
    return moment


class _Payloads:
    """JSON text of each payload; the empty one of every email row is `empty`, encoded once."""

    def __init__(self, empty: str | None = json.dumps({})) -> None:
        self._empty = empty

    def text(self, payload: Mapping[str, Any]) -> str | None:
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
