"""The outbox: one row per (digest, recipient) or (post, channel), and its life.

    planned ──claim──▶ claimed (leased to one worker) ──finish──▶ sent | failed | unknown | skipped
       ▲                    │
       └── transient failure, after a backoff; or the lease ran out (the worker died)

Planning is idempotent (a row's idempotency key is unique, so planning again adds nothing);
claiming takes rows no other worker holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL); a row's
attempt is counted when it is claimed, before the service is called, and given back if its
worker died before handing it over (rows handed over are marked in flight, `renew`). A row that
was in flight when its worker died on its last attempt fails instead of being claimed again.
Retries live here and nowhere else.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Update,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from digest.models import Delivery, DeliveryChannel, DeliveryResult, DeliveryState, DeliveryStatus
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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 30.0  # seconds before the second attempt; doubled each time after
    max_delay: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never sooner than the service asked."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))
        return max(retry_after or 0.0, random.uniform(ceiling / 2, ceiling))


PLAN_CHUNK = 5000  # rows per INSERT: a million-row plan never sits in memory at once


def plan(engine: Engine, rows: Iterable[PlannedDelivery], *, now: datetime) -> int:
    """Insert the rows not planned before, in one transaction; how many were new.

    `rows` is consumed a chunk at a time, so it may be a generator over a million subscribers.
    """
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(deliveries)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(deliveries.c.id)
    )
    new = 0
    with engine.begin() as connection:
        values = _plan_values(rows, now)
        while chunk := list(itertools.islice(values, PLAN_CHUNK)):
            new += len(connection.execute(statement, chunk).all())
    return new


def _plan_values(rows: Iterable[PlannedDelivery], now: datetime) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {
            "idempotency_key": row.idempotency_key,
            "digest_key": row.digest_key,
            "channel": row.channel.value,
            "target": row.target,
            "payload": dict(row.payload),
            "is_test": row.is_test,
            "state": DeliveryState.PLANNED.value,
            "available_at": row.available_at or now,
            "created_at": now,
            "updated_at": now,
        }


IN_FLIGHT = "in flight: handed to the service"  # on a row until its result is recorded
WORKER_DIED = "the previous attempt's worker died while the service had it; sent again"


def claim(
    engine: Engine,
    *,
    owner: str,
    limit: int,
    lease: timedelta,
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
    channels: Collection[DeliveryChannel] | None = None,
) -> list[Delivery]:
    """Lease up to `limit` due rows to `owner`: planned ones, and claimed ones whose lease ended;
    only of `channels` when given (email's hourly limit must not hold social posts back).

    A claimed row whose lease ended on its last allowed attempt fails instead: a row that kills
    its worker every time must not be claimed again forever.
    """
    due = (
        select(deliveries.c.id)
        .where(_due_condition(now, channels))
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    in_flight = func.coalesce(deliveries.c.last_error, "").startswith(IN_FLIGHT, autoescape=True)
    untried = and_(deliveries.c.state == DeliveryState.CLAIMED.value, ~in_flight)
    statement = (
        update(deliveries)
        .where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(
            state=DeliveryState.CLAIMED.value,
            lease_owner=owner,
            lease_until=now + lease,
            # A row a dead worker held but never handed to the service was not tried: its
            # attempt is given back, so a worker dying often never uses up untried rows.
            attempts=case((untried, deliveries.c.attempts), else_=deliveries.c.attempts + 1),
            updated_at=now,
            # The mark of the last attempt's worker, dead with the row in flight, made history
            # (this claim's attempt is marked in flight only when it is handed over).
            last_error=case(
                (in_flight, literal(WORKER_DIED, String)), else_=deliveries.c.last_error
            ),
        )
        .returning(*deliveries.c)
    )
    with engine.begin() as connection:
        _fail_exhausted(connection, now, policy)
        rows = connection.execute(statement).mappings().all()
    return sorted((_delivery(row) for row in rows), key=lambda delivery: delivery.id)


def _fail_exhausted(connection: Connection, now: datetime, policy: RetryPolicy) -> None:
    """Close the expired leases of rows that were in flight on their last attempt (one UPDATE:
    on SQLite, a read before the write would let two claimers deadlock upgrading their locks).

    Only rows marked in flight (`renew(…, sending=…)`): a row a dead worker claimed but never
    reached was not tried, and goes out again however often that happened.
    """
    connection.execute(
        update(deliveries)
        .where(
            deliveries.c.state == DeliveryState.CLAIMED.value,
            deliveries.c.lease_until < now,
            deliveries.c.attempts >= policy.max_attempts,
            deliveries.c.last_error.startswith(IN_FLIGHT, autoescape=True),
        )
        .values(
            state=DeliveryState.FAILED.value,
            last_error=literal("lease expired on its last attempt (", String)
            + cast(deliveries.c.attempts, String)
            + literal(
                f" of {policy.max_attempts}) while the service had it; "
                "the worker died delivering it",
                String,
            ),
            lease_owner=None,
            lease_until=None,
            finished_at=now,
            updated_at=now,
        )
    )


def finish(
    engine: Engine,
    delivery: Delivery,
    *,
    owner: str,
    result: DeliveryResult,
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
) -> DeliveryState:
    """Record an adapter's answer on a row this owner holds; the row's state afterwards."""
    return finish_many(engine, [(delivery, result)], owner=owner, now=now, policy=policy)[0]


def finish_many(
    engine: Engine,
    outcomes: Sequence[tuple[Delivery, DeliveryResult | str]],
    *,
    owner: str,
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
) -> list[DeliveryState]:
    """Record a batch of answers in one transaction (a str is a reason to skip the row).

    One commit per batch instead of one per message; a worker killed before it commits leaves
    the batch claimed, and the rows go out again, with the same Message-IDs, once the lease ends.
    """
    states, updates = [], []
    for delivery, result in outcomes:
        state, values = _closing_values(delivery, result, now, policy)
        states.append(state)
        updates.append((delivery, {**values, "state": state.value}))
    with engine.begin() as connection:
        for delivery, values in updates:
            connection.execute(_held(delivery, owner).values(**values))
    return states


def _closing_values(
    delivery: Delivery, result: DeliveryResult | str, now: datetime, policy: RetryPolicy
) -> tuple[DeliveryState, dict[str, Any]]:
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now}
    if isinstance(result, str):
        return DeliveryState.SKIPPED, {**values, "last_error": result, "finished_at": now}
    values["last_error"] = None if result.status is DeliveryStatus.SENT else result.response
    if result.status in (DeliveryStatus.SENT, DeliveryStatus.QUEUED):
        values.update(provider_id=result.provider_id, finished_at=now)
        return DeliveryState.SENT, values
    if result.status is DeliveryStatus.UNKNOWN:
        return DeliveryState.UNKNOWN, {**values, "finished_at": now}
    if (
        result.status is DeliveryStatus.FAILED
        and result.transient
        and delivery.attempts < policy.max_attempts
    ):
        delay = policy.delay(delivery.attempts, result.retry_after)
        return DeliveryState.PLANNED, {**values, "available_at": now + timedelta(seconds=delay)}
    return DeliveryState.FAILED, {**values, "finished_at": now}


def release(engine: Engine, rows: Sequence[Delivery], *, owner: str, now: datetime) -> None:
    """Give claimed rows back untried (a paused run): due at once, the attempt not counted."""
    with engine.begin() as connection:
        for delivery in rows:
            connection.execute(
                _held(delivery, owner).values(
                    state=DeliveryState.PLANNED.value,
                    lease_owner=None,
                    lease_until=None,
                    attempts=deliveries.c.attempts - 1,
                    available_at=now,
                    updated_at=now,
                )
            )


def renew(
    engine: Engine,
    rows: Sequence[Delivery],
    *,
    owner: str,
    lease: timedelta,
    now: datetime,
    sending: Collection[int] = (),
) -> set[int]:
    """Extend the lease of the rows this owner still holds, in one UPDATE; their ids. A row not
    among them was taken over by another worker after its lease ran out: not ours to send.

    The rows whose ids are in `sending` are about to be handed to the service: they are marked
    in flight, so that a worker dying with them counts against their attempts (`claim`).
    """
    if not rows:
        return set()
    marked = f"{IN_FLIGHT} at {now.isoformat()}"
    statement = (
        update(deliveries)
        .where(
            deliveries.c.id.in_([row.id for row in rows]),
            deliveries.c.lease_owner == owner,
            deliveries.c.state == DeliveryState.CLAIMED.value,
        )
        .values(
            lease_until=now + lease,
            updated_at=now,
            last_error=case(
                (deliveries.c.id.in_(list(sending)), literal(marked, String)),
                else_=deliveries.c.last_error,
            ),
        )
        .returning(deliveries.c.id)
    )
    with engine.begin() as connection:
        return set(connection.execute(statement).scalars())


def count_unplanned(engine: Engine, keys: Iterable[str]) -> int:
    """How many of these idempotency keys have no row yet (what planning them would add)."""
    unplanned = 0
    with engine.connect() as connection:
        stream = iter(keys)
        while chunk := list(itertools.islice(stream, 500)):
            query = select(func.count()).where(deliveries.c.idempotency_key.in_(chunk))
            unplanned += len(chunk) - int(connection.scalar(query) or 0)
    return unplanned


def due(engine: Engine, now: datetime, channels: Collection[DeliveryChannel] | None = None) -> int:
    """How many rows a claim made now could take."""
    query = select(func.count()).where(_due_condition(now, channels))
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def _due_condition(now: datetime, channels: Collection[DeliveryChannel] | None = None) -> Any:
    if channels is not None:
        return and_(
            deliveries.c.channel.in_([channel.value for channel in channels]),
            _due_condition(now),
        )
    return or_(
        and_(
            deliveries.c.state == DeliveryState.PLANNED.value,
            deliveries.c.available_at <= now,
        ),
        and_(
            deliveries.c.state == DeliveryState.CLAIMED.value,
            deliveries.c.lease_until < now,
        ),
    )


def sent_since(engine: Engine, channel: DeliveryChannel, since: datetime) -> int:
    """Rows of `channel` sent since `since` or being sent now, by every worker: what a per-hour
    limit counts, so that several workers share one limit."""
    query = select(func.count()).where(
        deliveries.c.channel == channel.value,
        or_(
            and_(
                deliveries.c.state == DeliveryState.SENT.value,
                deliveries.c.finished_at >= since,
            ),
            deliveries.c.state == DeliveryState.CLAIMED.value,
        ),
    )
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def _held(delivery: Delivery, owner: str) -> Update:
    # Only the lease holder may close a row: a worker whose lease ran out and was taken over
    # must not overwrite the newer attempt's result.
    return update(deliveries).where(
        deliveries.c.id == delivery.id,
        deliveries.c.lease_owner == owner,
        deliveries.c.state == DeliveryState.CLAIMED.value,
    )


def state_counts(engine: Engine, digest_keys: Collection[str] | None = None) -> dict[str, int]:
    """How many rows are in each state, for the given digests or all."""
    query = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    if digest_keys is not None:
        query = query.where(deliveries.c.digest_key.in_(list(digest_keys)))
    with engine.connect() as connection:
        return {state: count for state, count in connection.execute(query).all()}


def _delivery(row: Mapping[str, Any]) -> Delivery:
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
    )


# Social posts on platforms without idempotency keys ------------------------------------------


def note_attempt(
    engine: Engine, delivery: Delivery, *, owner: str, note: str, now: datetime
) -> None:
    """Write `note` as the claimed row's last error *before* calling the service: if the worker
    dies mid-call, the row comes back saying its outcome is unknown, and is not posted blindly."""
    with engine.begin() as connection:
        connection.execute(_held(delivery, owner).values(last_error=note, updated_at=now))


def hold(engine: Engine, delivery: Delivery, *, owner: str, reason: str, now: datetime) -> None:
    """Set a claimed row aside for an editor: it is never claimed again until released."""
    with engine.begin() as connection:
        connection.execute(
            _held(delivery, owner).values(
                state=DeliveryState.HELD.value,
                last_error=reason,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )


def held_rows(engine: Engine) -> list[Delivery]:
    """The rows set aside for an editor, oldest first."""
    query = (
        select(deliveries)
        .where(deliveries.c.state == DeliveryState.HELD.value)
        .order_by(deliveries.c.id)
    )
    with engine.connect() as connection:
        return [_delivery(row) for row in connection.execute(query).mappings()]


def release_held(
    engine: Engine, delivery_id: int, *, now: datetime, provider_id: str | None = None
) -> DeliveryState | None:
    """An editor's answer for a held row: it was posted after all (give the post's id: the row is
    sent), or it was not (the row is planned again and the next attempt posts). The row's new
    state, or None when no held row has that id."""
    values: dict[str, Any] = {"updated_at": now}
    if provider_id:
        state = DeliveryState.SENT
        values.update(provider_id=provider_id, last_error=None, finished_at=now)
    else:
        state = DeliveryState.PLANNED
        values.update(last_error="released by an editor: not posted", available_at=now)
    statement = (
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == DeliveryState.HELD.value)
        .values(state=state.value, **values)
    )
    with engine.begin() as connection:
        changed = connection.execute(statement).rowcount
    return state if changed else None


def provider_ids(engine: Engine, idempotency_keys: Collection[str]) -> dict[str, str]:
    """The service's ids of the sent rows among these keys (a thread's earlier parts)."""
    query = select(deliveries.c.idempotency_key, deliveries.c.provider_id).where(
        deliveries.c.idempotency_key.in_(list(idempotency_keys)),
        deliveries.c.state == DeliveryState.SENT.value,
    )
    with engine.connect() as connection:
        return {key: provider for key, provider in connection.execute(query).all() if provider}


def postpone(
    engine: Engine,
    delivery: Delivery,
    *,
    owner: str,
    seconds: float,
    reason: str,
    now: datetime,
) -> None:
    """Put a claimed row back to be tried after `seconds`, its attempt not counted: it was not
    tried, it waits for something else (a thread's previous post) to be sent first."""
    with engine.begin() as connection:
        connection.execute(
            _held(delivery, owner).values(
                state=DeliveryState.PLANNED.value,
                lease_owner=None,
                lease_until=None,
                attempts=deliveries.c.attempts - 1,
                available_at=now + timedelta(seconds=seconds),
                last_error=reason,
                updated_at=now,
            )
        )


def states_of(engine: Engine, idempotency_keys: Collection[str]) -> dict[str, DeliveryState]:
    """The states of the rows among these keys that exist."""
    query = select(deliveries.c.idempotency_key, deliveries.c.state).where(
        deliveries.c.idempotency_key.in_(list(idempotency_keys))
    )
    with engine.connect() as connection:
        return {key: DeliveryState(state) for key, state in connection.execute(query).all()}
