"""What social posts need beyond claiming and recording: the attempt noted before a call to a
platform without idempotency keys, a thread's part waiting for the previous one, and the ids
and states of a thread's earlier parts."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from digest.models import Delivery, DeliveryState
from digest.outbox.rows import held_by, state_is, writing
from digest.store.schema import deliveries


def note_attempt(
    engine: Engine, delivery: Delivery, *, owner: str, note: str, now: datetime
) -> None:
    """Write `note` as the claimed row's last error *before* calling the service: if the worker
    dies mid-call, the row comes back saying its outcome is unknown, and is not posted blindly."""
    with writing(engine) as connection:
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery.id, held_by(owner))
            .values(last_error=note, updated_at=now)
        )


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
    with writing(engine) as connection:
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery.id, held_by(owner))
            .values(
                state=DeliveryState.PLANNED.value,
                lease_owner=None,
                lease_until=None,
                attempts=deliveries.c.attempts - 1,
                available_at=now + timedelta(seconds=seconds),
                last_error=reason,
                updated_at=now,
            )
        )


def provider_ids(engine: Engine, idempotency_keys: Collection[str]) -> dict[str, str]:
    """The service's ids of the sent rows among these keys (a thread's earlier parts)."""
    query = select(deliveries.c.idempotency_key, deliveries.c.provider_id).where(
        deliveries.c.idempotency_key.in_(list(idempotency_keys)), state_is(DeliveryState.SENT)
    )
    with engine.connect() as connection:
        return {key: provider for key, provider in connection.execute(query).all() if provider}


def states_of(engine: Engine, idempotency_keys: Collection[str]) -> dict[str, DeliveryState]:
    """The states of the rows among these keys that exist."""
    query = select(deliveries.c.idempotency_key, deliveries.c.state).where(
        deliveries.c.idempotency_key.in_(list(idempotency_keys))
    )
    with engine.connect() as connection:
        return {key: DeliveryState(state) for key, state in connection.execute(query).all()}
