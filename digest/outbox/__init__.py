"""The outbox: one row per (digest, recipient) or (post, channel), and its life.

    planned ──claim──▶ claimed (leased to one worker) ──finish──▶ sent | failed | unknown | skipped
       ▲                    │
       └── transient failure, after a backoff; or the lease ran out (the worker died)

Planning is idempotent (a row's idempotency key is unique, so planning again adds nothing);
claiming takes rows no other worker holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL); a row's
attempt is counted when it is claimed, before the service is called. Retries live here and
nowhere else.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 30.0  # seconds before the second attempt; doubled each time after
    max_delay: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never sooner than the service asked."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))
        return max(retry_after or 0.0, random.uniform(ceiling / 2, ceiling))


def plan(engine: Engine, rows: Iterable[PlannedDelivery], *, now: datetime) -> int:
    """Insert the rows not planned before, in one transaction; how many were new."""
    values = [
        {
            "idempotency_key": row.idempotency_key,
            "digest_key": row.digest_key,
            "channel": row.channel.value,
            "target": row.target,
            "payload": dict(row.payload),
            "is_test": row.is_test,
            "state": DeliveryState.PLANNED.value,
            "available_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
    ]
    if not values:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(deliveries)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(deliveries.c.id)
    )
    with engine.begin() as connection:
        return len(connection.execute(statement, values).all())


def claim(
    engine: Engine, *, owner: str, limit: int, lease: timedelta, now: datetime
) -> list[Delivery]:
    """Lease up to `limit` due rows to `owner`: planned ones, and claimed ones whose lease ended."""
    due = (
        select(deliveries.c.id)
        .where(
            or_(
                and_(
                    deliveries.c.state == DeliveryState.PLANNED.value,
                    deliveries.c.available_at <= now,
                ),
                and_(
                    deliveries.c.state == DeliveryState.CLAIMED.value,
                    deliveries.c.lease_until < now,
                ),
            )
        )
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(deliveries)
        .where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(
            state=DeliveryState.CLAIMED.value,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=deliveries.c.attempts + 1,
            updated_at=now,
        )
        .returning(*deliveries.c)
    )
    with engine.begin() as connection:
        rows = connection.execute(statement).mappings().all()
    return sorted((_delivery(row) for row in rows), key=lambda delivery: delivery.id)


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
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
        "last_error": None if result.status is DeliveryStatus.SENT else result.response,
    }
    if result.status in (DeliveryStatus.SENT, DeliveryStatus.QUEUED):
        state = DeliveryState.SENT
        values.update(provider_id=result.provider_id, finished_at=now)
    elif result.status is DeliveryStatus.UNKNOWN:
        state = DeliveryState.UNKNOWN
        values.update(finished_at=now)
    elif (
        result.status is DeliveryStatus.FAILED
        and result.transient
        and delivery.attempts < policy.max_attempts
    ):
        state = DeliveryState.PLANNED
        delay = policy.delay(delivery.attempts, result.retry_after)
        values.update(available_at=now + timedelta(seconds=delay))
    else:
        state = DeliveryState.FAILED
        values.update(finished_at=now)
    _update_held(engine, delivery, owner, {**values, "state": state.value})
    return state


def skip(engine: Engine, delivery: Delivery, *, owner: str, reason: str, now: datetime) -> None:
    """Close a row without sending: its recipient left, or there is nothing for them."""
    values = {
        "state": DeliveryState.SKIPPED.value,
        "last_error": reason,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
        "finished_at": now,
    }
    _update_held(engine, delivery, owner, values)


def _update_held(engine: Engine, delivery: Delivery, owner: str, values: dict[str, Any]) -> None:
    # Only the lease holder may close a row: a worker whose lease ran out and was taken over
    # must not overwrite the newer attempt's result.
    statement = (
        update(deliveries)
        .where(
            deliveries.c.id == delivery.id,
            deliveries.c.lease_owner == owner,
            deliveries.c.state == DeliveryState.CLAIMED.value,
        )
        .values(**values)
    )
    with engine.begin() as connection:
        connection.execute(statement)


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
