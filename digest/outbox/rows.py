"""What the outbox's modules share: a row read back as a `Delivery`, states written as SQL
literals, the condition that a row is still its lease owner's, and write transactions."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection, Engine, and_, literal_column

from digest.models import Delivery, DeliveryChannel, DeliveryState
from digest.store.engine import write_transaction
from digest.store.schema import deliveries


def state_is(state: DeliveryState) -> ColumnElement[bool]:
    # A literal, not a bound parameter: SQLite uses a partial index (`WHERE state = 'planned'`)
    # only for a query whose WHERE names the very same value.
    return deliveries.c.state == literal_column(f"'{state.value}'")


def held_by(owner: str | BindParameter[str]) -> ColumnElement[bool]:
    # Only the lease holder may close a row: a worker whose lease ran out and was taken over
    # must not overwrite the newer attempt's result.
    return and_(deliveries.c.lease_owner == owner, state_is(DeliveryState.CLAIMED))


# What a `Delivery` holds: what a claim returns (the times are the outbox's own business).
DELIVERY_COLUMNS = tuple(
    deliveries.c[name]
    for name in (
        "id",
        "idempotency_key",
        "digest_key",
        "channel",
        "target",
        "state",
        "payload",
        "attempts",
        "last_error",
        "provider_id",
        "is_test",
        "unanswered",
        "available_at",
    )
)


def delivery_from_row(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        digest_key=row["digest_key"],
        channel=DeliveryChannel(row["channel"]),
        target=row["target"],
        state=DeliveryState(row["state"]),
        payload=dict(row["payload"] or {}),
        attempts=row["attempts"],
        last_error=row["last_error"],
        provider_id=row["provider_id"],
        is_test=row["is_test"],
        unanswered=row["unanswered"],
        available_at=row["available_at"],
    )


_sqlite_writers: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_registry = threading.Lock()


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction, committed at the end of the block.

    On SQLite the threads of one process take turns through a lock rather than through SQLite's
    busy handler, whose sleeps (1 ms, 2 ms, 5 ms, …) would stall a worker whose recorder commits
    every few hundred microseconds; BEGIN IMMEDIATE takes the file's write lock at once, so other
    processes queue there and a transaction never fails halfway to upgrade its lock.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    with sqlite_writer_turn(engine), write_transaction(engine) as connection:
        yield connection


def sqlite_writer_turn(engine: Engine) -> threading.Lock:
    """The lock this process's threads take in turn before they write to a SQLite file."""
    with _registry:
        return _sqlite_writers.setdefault(engine, threading.Lock())
