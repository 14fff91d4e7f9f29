"""Recording what the services answered: one statement or executemany per group of answers.

An answer closes its row (sent, failed, unknown, skipped, held) or puts it back to be tried
later (a transient failure, after a backoff; an unknown outcome, once, after a delay). A row is
closed only by the worker that holds its lease.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Integer,
    String,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Update

from digest.models import Delivery, DeliveryResult, DeliveryState, DeliveryStatus
from digest.outbox.rows import held_by, sqlite_writer_turn
from digest.store import events
from digest.store.engine import SQLITE_BEGIN
from digest.store.schema import deliveries
from digest.store.types import UTCDateTime

_c = deliveries.c


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 30.0  # seconds before the second attempt; doubled each time after
    max_delay: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never sooner than the service asked."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))
        return max(retry_after or 0.0, random.uniform(ceiling / 2, ceiling))


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class UnknownPolicy:
    """What follows an attempt the service may have taken without saying so (the connection
    dropped after the message went): sent again `retries` times, `delay` seconds later (the
    same Message-ID, so that a receiver that has it may drop the copy), then held for an
    editor (`digest held`)."""

    retries: int = 1
    delay: float = 900.0


# One statement for every answer, run with executemany: each row's values are parameters, and
# a value that stays as it was is a NULL the COALESCE keeps.
_CLOSE = (
    update(deliveries)
    .where(_c.id == bindparam("row_id"), held_by(bindparam("owner", type_=String)))
    .values(
        state=bindparam("next_state", type_=String),
        last_error=bindparam("error", type_=Text),
        provider_id=func.coalesce(bindparam("provider", type_=String), _c.provider_id),
        available_at=func.coalesce(bindparam("retry_at", type_=UTCDateTime), _c.available_at),
        finished_at=bindparam("finished", type_=UTCDateTime),
        unanswered=_c.unanswered + bindparam("unanswered_more", type_=Integer),
        lease_owner=None,
        lease_until=None,
        in_flight_since=None,
        updated_at=bindparam("now", type_=UTCDateTime),
    )
)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled once for a dialect and run through the driver's executemany: the
    parameters of each row processed here, in one pass, instead of by SQLAlchemy's execution
    context (which cost more than the database itself, ~150 µs a row on SQLite)."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]  # the values the statement itself sets (the NULLs)
    processors: dict[str, Callable[[Any], Any]]
    positional: bool

    @classmethod
    def of(cls, statement: Update, dialect: Dialect) -> _Prepared:
        compiled = statement.compile(dialect=dialect)
        if compiled.update_prefetch:  # SQLAlchemy would compute them at each execution
            names = ", ".join(column.name for column in compiled.update_prefetch)
            raise ValueError(f"set {names} in the statement: their onupdate would not run")
        sql = str(compiled)
        # Positional (SQLite's qmark) in their order; named (psycopg's pyformat) as they appear.
        names = tuple(compiled.positiontup or (n for n in compiled.binds if f"%({n})s" in sql))
        processors = {}
        for name in names:
            processor = compiled.binds[name].type.bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        fixed = {
            name: compiled.binds[name].value for name in names if not compiled.binds[name].required
        }
        return cls(sql, names, fixed, processors, compiled.positiontup is not None)

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """The driver's parameters for each of `rows`, for an executemany of `sql`."""
        processors, fixed = self.processors, self.fixed
        prepared: list[Any] = []
        for values in rows:
            merged = {**fixed, **values}
            for name, processor in processors.items():
                merged[name] = processor(merged[name])
            if self.positional:
                prepared.append(tuple(merged[name] for name in self.names))
            else:
                prepared.append(merged)
        return prepared


# Marking a row in flight, one row a parameter set (`_CLOSE`'s way).
_MARK = (
    update(deliveries)
    .where(_c.id == bindparam("row_id"), held_by(bindparam("owner", type_=String)))
    .values(in_flight_since=bindparam("now", type_=UTCDateTime), updated_at=bindparam("now"))
)

_prepared: dict[tuple[str, str], _Prepared] = {}


def _prepared_for(name: str, statement: Update, dialect: Dialect) -> _Prepared:
    if (name, dialect.name) not in _prepared:
        _prepared[name, dialect.name] = _Prepared.of(statement, dialect)
    return _prepared[name, dialect.name]


def finish(
    engine: Engine,
    delivery: Delivery,
    *,
    owner: str,
    result: DeliveryResult,
    now: datetime,
    policy: RetryPolicy = DEFAULT_RETRY,
    unknown: UnknownPolicy | None = None,
) -> DeliveryState:
    """Record an adapter's answer on a row this owner holds; the row's state afterwards."""
    return finish_many(
        engine, [(delivery, result)], owner=owner, now=now, policy=policy, unknown=unknown
    )[0]


def finish_many(
    engine: Engine,
    outcomes: Sequence[tuple[Delivery, DeliveryResult | str]],
    *,
    owner: str,
    now: datetime,
    policy: RetryPolicy = DEFAULT_RETRY,
    unknown: UnknownPolicy | None = None,
) -> list[DeliveryState]:
    """Record a batch of answers in one transaction (a str is a reason to skip the row)."""
    _, states = record(
        engine, owner=owner, now=now, outcomes=outcomes, policy=policy, unknown=unknown
    )
    return states


def record(
    engine: Engine,
    *,
    owner: str,
    now: datetime,
    sending: Collection[int] = (),
    outcomes: Sequence[tuple[Delivery, DeliveryResult | str]] = (),
    policy: RetryPolicy = DEFAULT_RETRY,
    unknown: UnknownPolicy | None = None,
) -> tuple[set[int], list[DeliveryState]]:
    """`ResultWriter.record` once, on a connection of its own."""
    with ResultWriter(engine, owner=owner) as writer:
        return writer.record(
            now=now, sending=sending, outcomes=outcomes, policy=policy, unknown=unknown
        )


# PostgreSQL records a whole group in one statement, each row's values in arrays: psycopg's
# executemany sends a statement a row (each firing the tally triggers), and with the transaction
# around them cost two thirds of a worker's CPU. A row without a next state is marked in
# flight, one with a state closed; RETURNING says which of them this owner still held. The
# `= ANY` makes each row an index lookup, whatever the statistics say of the rows held (with
# the join alone, the planner read every held row when they said none was).
_RECORD_POSTGRESQL = """UPDATE deliveries AS d SET
    state = COALESCE(v.next_state, d.state),
    last_error = CASE WHEN v.next_state IS NULL THEN d.last_error ELSE v.error END,
    provider_id = COALESCE(v.provider, d.provider_id),
    available_at = COALESCE(v.retry_at, d.available_at),
    finished_at = CASE WHEN v.next_state IS NULL THEN d.finished_at ELSE v.finished END,
    unanswered = d.unanswered + v.unanswered_more,
    lease_owner = CASE WHEN v.next_state IS NULL THEN d.lease_owner END,
    lease_until = CASE WHEN v.next_state IS NULL THEN d.lease_until END,
    in_flight_since = CASE WHEN v.next_state IS NULL THEN %(now)s::timestamptz END,
    updated_at = %(now)s::timestamptz
FROM unnest(
    %(row_id)s::bigint[], %(next_state)s::text[], %(error)s::text[], %(provider)s::text[],
    %(retry_at)s::timestamptz[], %(finished)s::timestamptz[], %(unanswered_more)s::integer[]
) AS v(row_id, next_state, error, provider, retry_at, finished, unanswered_more)
WHERE d.id = ANY(%(row_id)s::bigint[]) AND d.id = v.row_id
    AND d.lease_owner = %(owner)s AND d.state = 'claimed'
RETURNING d.id, v.next_state IS NULL
"""
_RECORDED_VALUES = ("next_state", "error", "provider", "retry_at", "finished", "unanswered_more")


class ResultWriter:
    """Records one owner's answers, group after group, on a connection held until the block
    ends (checking one out and setting it up for every group cost a quarter of recording's
    CPU). One not `durable` does not wait for PostgreSQL to flush its commits to disk: a crash
    of the server, not of the worker, may lose the last ones, sent again once their leases end.
    """

    def __init__(self, engine: Engine, *, owner: str, durable: bool = True) -> None:
        self.engine = engine
        self.owner = owner
        self.durable = durable
        self.postgresql = engine.dialect.name == "postgresql"
        self._connection: Connection | None = None
        self._driver: Any = None  # the connection's own DB-API connection

    def __enter__(self) -> ResultWriter:
        connection = self.engine.connect()
        if not self.postgresql:
            connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        elif not self.durable:
            connection.exec_driver_sql("SET synchronous_commit = off")
            connection.commit()
        self._connection = connection
        self._driver = connection.connection.driver_connection
        return self

    def __exit__(self, *_: object) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        assert connection is not None
        try:
            if self.postgresql and not self.durable:
                connection.rollback()  # a transaction a failure left open
                # Back to the pool as it came out.
                connection.exec_driver_sql("RESET synchronous_commit")
                connection.commit()
        except DBAPIError:
            connection.invalidate()
        finally:
            connection.close()

    def record(
        self,
        *,
        now: datetime,
        sending: Collection[int] = (),
        outcomes: Sequence[tuple[Delivery, DeliveryResult | str]] = (),
        policy: RetryPolicy = DEFAULT_RETRY,
        unknown: UnknownPolicy | None = None,
        unfinished: Collection[str] = (),
    ) -> tuple[set[int], list[DeliveryState]]:
        """In one transaction: mark the `sending` rows in flight (about to be handed to the
        service), and record `outcomes`. The ids of the `sending` rows this owner still holds,
        and each outcome's row state. `unfinished`: see `events.emit_for_outcomes`.

        The mark is what makes a dead worker's attempt count (`claim`): a worker killed before
        it commits here leaves the rows claimed and unmarked, and they go out again, with the
        same Message-IDs, once the lease ends.
        """
        connection = self._connection
        assert connection is not None, "ResultWriter.record outside its with block"
        states: list[DeliveryState] = []
        closing: list[dict[str, Any]] = []
        for delivery, result in outcomes:
            state, values = _closing(delivery, result, now, policy, unknown)
            states.append(state)
            closing.append({**values, "row_id": delivery.id})
        if not sending and not closing:
            return set(), states
        finished = [(row, state) for (row, _), state in zip(outcomes, states, strict=True)]
        found = events.outcome_events(finished, unfinished=unfinished)
        turn = nullcontext() if self.postgresql else sqlite_writer_turn(self.engine)
        with turn, self._driver_errors():
            if found:  # their statements are SQLAlchemy's: so is the transaction
                with connection.begin():
                    held = self._statements(now, sending, closing)
                    events.emit_outcome_events(connection, found, now)
            else:
                held = self._in_driver_transaction(now, sending, closing)
        return held, states

    def _in_driver_transaction(
        self, now: datetime, sending: Collection[int], closing: Sequence[dict[str, Any]]
    ) -> set[int]:
        """`_statements` in a transaction of the driver's own: SQLAlchemy's begin and commit
        (its events, the BEGIN hook, the pool's bookkeeping) cost more than a group's writes."""
        driver = self._driver
        try:
            if not self.postgresql:
                driver.execute("BEGIN IMMEDIATE")  # psycopg begins by itself
            held = self._statements(now, sending, closing)
            driver.commit()
        except BaseException:
            with suppress(self.engine.dialect.loaded_dbapi.Error):  # the first error is told
                driver.rollback()
            raise
        return held

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        """The driver's errors raised as SQLAlchemy's, as every other store call raises them."""
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            yield
        except dbapi.Error as error:
            statement = "recording answers in the outbox"
            raise DBAPIError.instance(
                statement, None, error, dbapi.Error, dialect=self.engine.dialect
            ) from error

    def _statements(
        self, now: datetime, sending: Collection[int], closing: Sequence[dict[str, Any]]
    ) -> set[int]:
        """The group's writes through the driver's cursor, in the transaction already begun: the
        ids of the `sending` rows still held."""
        cursor = self._driver.cursor()
        try:
            if self.postgresql:
                return self._in_one_statement(cursor, now, sending, closing)
            return self._in_executemany(cursor, now, sending, closing)
        finally:
            cursor.close()

    def _in_one_statement(
        self,
        cursor: Any,
        now: datetime,
        sending: Collection[int],
        closing: Sequence[dict[str, Any]],
    ) -> set[int]:
        columns: dict[str, list[Any]] = {"row_id": [*sending, *(row["row_id"] for row in closing)]}
        for name in _RECORDED_VALUES:
            marked = [0] * len(sending) if name == "unanswered_more" else [None] * len(sending)
            columns[name] = [*marked, *(row[name] for row in closing)]
        cursor.execute(_RECORD_POSTGRESQL, {**columns, "now": now, "owner": self.owner})
        return {row_id for row_id, marked in cursor.fetchall() if marked}

    def _in_executemany(
        self,
        cursor: Any,
        now: datetime,
        sending: Collection[int],
        closing: Sequence[dict[str, Any]],
    ) -> set[int]:
        held: set[int] = set()
        dialect = self.engine.dialect
        fixed = {"owner": self.owner, "now": now}
        if sending:
            ids = list(sending)
            mark = _prepared_for("mark", _MARK, dialect)
            held = set(ids)
            cursor.executemany(mark.sql, mark.parameters([{**fixed, "row_id": i} for i in ids]))
            if cursor.rowcount < len(ids):
                # Some were taken over: which are still held (rare; a read in this transaction).
                query = select(_c.id).where(_c.id.in_(ids), held_by(self.owner))
                still = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
                cursor.execute(str(still), [still.params[name] for name in still.positiontup or ()])
                held = {row_id for (row_id,) in cursor.fetchall()}
        if closing:
            close = _prepared_for("close", _CLOSE, dialect)
            cursor.executemany(close.sql, close.parameters([{**fixed, **row} for row in closing]))
        return held


def _closing(
    delivery: Delivery,
    result: DeliveryResult | str,
    now: datetime,
    policy: RetryPolicy,
    unknown: UnknownPolicy | None,
) -> tuple[DeliveryState, dict[str, Any]]:
    values: dict[str, Any] = {
        "error": None,
        "provider": None,
        "retry_at": None,
        "finished": now,
        "unanswered_more": 0,
    }
    if isinstance(result, str):
        return DeliveryState.SKIPPED, {**values, "next_state": "skipped", "error": result}
    state = _state_after(delivery, result, policy, unknown)
    values["next_state"] = state.value
    if result.status is not DeliveryStatus.SENT:
        values["error"] = result.response
    if state is DeliveryState.SENT:
        values["provider"] = result.provider_id
    elif result.status is DeliveryStatus.UNKNOWN:
        values["unanswered_more"] = 1
        if state is DeliveryState.PLANNED:
            assert unknown is not None
            values["error"] = f"{result.response}; sent again once after {unknown.delay:.0f} s"
            values["retry_at"] = now + timedelta(seconds=unknown.delay)
        elif state is DeliveryState.HELD:
            values["error"] = _held_reason(delivery, result)
    elif state is DeliveryState.PLANNED:
        delay = policy.delay(delivery.attempts, result.retry_after)
        values["retry_at"] = now + timedelta(seconds=delay)
    if state in (DeliveryState.PLANNED, DeliveryState.HELD):
        values["finished"] = None
    return state, values


def _state_after(
    delivery: Delivery,
    result: DeliveryResult,
    policy: RetryPolicy,
    unknown: UnknownPolicy | None,
) -> DeliveryState:
    if result.status in (DeliveryStatus.SENT, DeliveryStatus.QUEUED):
        return DeliveryState.SENT
    if result.status is DeliveryStatus.UNKNOWN:
        if unknown is None:
            return DeliveryState.UNKNOWN
        if delivery.unanswered < unknown.retries:
            return DeliveryState.PLANNED
        return DeliveryState.HELD
    if (
        result.status is DeliveryStatus.FAILED
        and result.transient
        and delivery.attempts < policy.max_attempts
    ):
        return DeliveryState.PLANNED
    return DeliveryState.FAILED


def _held_reason(delivery: Delivery, result: DeliveryResult) -> str:
    times = delivery.unanswered + 1
    return (
        f"held for an editor: no answer after it was handed over "
        f"({times} time{'s' if times > 1 else ''}; the last: {result.response}). "
        f"The service may have it: look for it (a relay's log names its Message-ID), then "
        f"`digest held release {delivery.id} --sent`, or `digest held release {delivery.id}` "
        "to send it again"
    )
