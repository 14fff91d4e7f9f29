"""Claiming due rows, and holding them while they are sent: leases and the in-flight mark.

Every query here reads one small partial index, so its cost does not grow with the outbox:
due rows through `(channel, available_at, id) WHERE state = 'planned'` (a range scan that stops
after `limit` rows, or at the first row due later), leased rows through `(id) WHERE state =
'claimed'` (only the rows workers hold now: a lookup by id when a row is closed or marked, all of
them when a claim looks for ended leases). Rows already sent are in neither index.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    Update,
    case,
    cast,
    func,
    literal,
    select,
    update,
)

from digest.models import Delivery, DeliveryChannel, DeliveryState
from digest.outbox.results import DEFAULT_RETRY, RetryPolicy
from digest.outbox.rows import DELIVERY_COLUMNS, delivery_from_row, held_by, state_is, writing
from digest.store import events
from digest.store.schema import deliveries

WORKER_DIED = "the previous attempt's worker died while the service had it; sent again"

_c = deliveries.c
_was_in_flight = _c.in_flight_since.is_not(None)


def claim(
    engine: Engine,
    *,
    owner: str,
    limit: int,
    lease: timedelta,
    now: datetime,
    policy: RetryPolicy = DEFAULT_RETRY,
    channels: Collection[DeliveryChannel] | None = None,
    due_by: datetime | None = None,
) -> list[Delivery]:
    """Lease up to `limit` due rows to `owner`: claimed rows whose lease ended first, then
    planned ones; only of `channels` when given (email's hourly limit must not hold social
    posts back). Posts are taken before emails: a few posts never wait behind a million emails.
    Rows are due when they fall due by `due_by`, `now` unless given (the demo writes its posts
    ahead of their slots).

    A row a dead worker held but never handed to the service was not tried: its attempt is
    given back. One that was in flight counts as an unanswered attempt, and fails instead of
    being claimed again when it was its last: a row that kills its worker every time must not
    be claimed forever.
    """
    wanted = sorted(
        channels if channels is not None else DeliveryChannel,
        key=lambda channel: (channel is DeliveryChannel.EMAIL, channel.value),
    )
    until = now + lease
    with writing(engine) as connection:
        _fail_exhausted(connection, now, policy)
        taken = list(connection.execute(_take_over(owner, limit, until, now, wanted)).mappings())
        for channel in wanted:
            if len(taken) >= limit:
                break
            due = _due_rows(channel, due_by or now).limit(limit - len(taken))
            taken += connection.execute(_claimed(due, owner, until, now)).mappings()
    return sorted((delivery_from_row(row) for row in taken), key=lambda row: row.id)


def _due_rows(channel: DeliveryChannel, now: datetime) -> Select[tuple[int]]:
    return (
        select(_c.id)
        .where(*_due(channel, now))
        .order_by(_c.available_at, _c.id)
        .with_for_update(skip_locked=True)
    )


def _due(channel: DeliveryChannel, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (state_is(DeliveryState.PLANNED), _c.channel == channel.value, _c.available_at <= now)


def _expired_rows(now: datetime, channels: Collection[DeliveryChannel]) -> Select[tuple[int]]:
    # Oldest lease first, sorted from the few rows the leased index holds.
    return (
        select(_c.id)
        .where(*_expired(now, channels))
        .order_by(_c.lease_until)
        .with_for_update(skip_locked=True)
    )


def _expired(
    now: datetime, channels: Collection[DeliveryChannel]
) -> tuple[ColumnElement[bool], ...]:
    return (
        state_is(DeliveryState.CLAIMED),
        _c.lease_until < now,
        _c.channel.in_([channel.value for channel in channels]),
    )


def _claimed(due: Select[tuple[int]], owner: str, until: datetime, now: datetime) -> Update:
    return (
        update(deliveries)
        .where(_c.id.in_(due.scalar_subquery()))
        .values(
            state=DeliveryState.CLAIMED.value,
            lease_owner=owner,
            lease_until=until,
            attempts=_c.attempts + 1,  # counted before the service is called
            updated_at=now,
        )
        .returning(*DELIVERY_COLUMNS)
    )


def _take_over(
    owner: str, limit: int, until: datetime, now: datetime, channels: Collection[DeliveryChannel]
) -> Update:
    return (
        update(deliveries)
        .where(_c.id.in_(_expired_rows(now, channels).limit(limit).scalar_subquery()))
        .values(
            lease_owner=owner,
            lease_until=until,
            updated_at=now,
            # Untried: the dead claim's attempt is this one. In flight: the service had it.
            attempts=case((_was_in_flight, _c.attempts + 1), else_=_c.attempts),
            unanswered=case((_was_in_flight, _c.unanswered + 1), else_=_c.unanswered),
            last_error=case((_was_in_flight, literal(WORKER_DIED, String)), else_=_c.last_error),
            in_flight_since=None,
        )
        .returning(*DELIVERY_COLUMNS)
    )


def _fail_exhausted(connection: Connection, now: datetime, policy: RetryPolicy) -> None:
    """Close the expired leases of rows that were in flight on their last attempt (one UPDATE:
    on SQLite, a read before the write would let two claimers deadlock upgrading their locks).
    Each failure's event is written in the same transaction, as a recorded result's is."""
    closed = connection.execute(
        update(deliveries)
        .where(
            state_is(DeliveryState.CLAIMED),
            _c.lease_until < now,
            _c.attempts >= policy.max_attempts,
            _was_in_flight,
        )
        .values(
            state=DeliveryState.FAILED.value,
            last_error=literal("lease expired on its last attempt (", String)
            + cast(_c.attempts, String)
            + literal(
                f" of {policy.max_attempts}) while the service had it; "
                "the worker died delivering it",
                String,
            ),
            unanswered=_c.unanswered + 1,
            in_flight_since=None,
            lease_owner=None,
            lease_until=None,
            finished_at=now,
            updated_at=now,
        )
        .returning(*DELIVERY_COLUMNS)
    )
    failed = [(delivery_from_row(row), DeliveryState.FAILED) for row in closed.mappings()]
    events.emit_for_outcomes(connection, failed, now)


def renew(engine: Engine, *, owner: str, lease: timedelta, now: datetime) -> int:
    """Extend the lease of every row this owner holds, in one UPDATE; how many it holds. A row
    another worker took over after its lease ran out is no longer among them."""
    with writing(engine) as connection:
        result = connection.execute(
            update(deliveries).where(held_by(owner)).values(lease_until=now + lease, updated_at=now)
        )
    return int(result.rowcount)


def release(engine: Engine, rows: Sequence[Delivery], *, owner: str, now: datetime) -> None:
    """Give claimed rows back untried (a paused or stopped run): due at once, the attempt not
    counted."""
    if not rows:
        return
    with writing(engine) as connection:
        connection.execute(
            update(deliveries)
            .where(_c.id.in_([row.id for row in rows]), held_by(owner))
            .values(
                state=DeliveryState.PLANNED.value,
                lease_owner=None,
                lease_until=None,
                in_flight_since=None,
                attempts=_c.attempts - 1,
                available_at=now,
                updated_at=now,
            )
        )


def due(engine: Engine, now: datetime, channels: Collection[DeliveryChannel] | None = None) -> int:
    """How many rows a claim made now could take."""
    wanted = list(channels if channels is not None else DeliveryChannel)
    conditions = [*(_due(channel, now) for channel in wanted), _expired(now, wanted)]
    with engine.connect() as connection:
        return sum(
            int(connection.scalar(select(func.count()).where(*condition)) or 0)
            for condition in conditions
        )
