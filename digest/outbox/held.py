"""Rows set aside for an editor: a post or an email whose last attempt may have reached the
service unanswered, which cannot be checked there. Never claimed again until released."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from digest.models import Delivery, DeliveryState
from digest.outbox.rows import DELIVERY_COLUMNS, delivery_from_row, held_by, state_is, writing
from digest.store.schema import deliveries


def hold(engine: Engine, delivery: Delivery, *, owner: str, reason: str, now: datetime) -> None:
    """Set a claimed row aside for an editor, saying why and what to do."""
    with writing(engine) as connection:
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery.id, held_by(owner))
            .values(
                state=DeliveryState.HELD.value,
                last_error=reason,
                lease_owner=None,
                lease_until=None,
                in_flight_since=None,
                updated_at=now,
            )
        )


def held_rows(engine: Engine) -> list[Delivery]:
    """The rows set aside for an editor, oldest first."""
    query = select(*DELIVERY_COLUMNS).where(state_is(DeliveryState.HELD)).order_by(deliveries.c.id)
    with engine.connect() as connection:
        return [delivery_from_row(row) for row in connection.execute(query).mappings()]


def release_held(
    engine: Engine,
    delivery_id: int,
    *,
    now: datetime,
    provider_id: str | None = None,
    sent: bool = False,
) -> DeliveryState | None:
    """An editor's answer for a held row: it reached the service after all (`sent`, or the
    post's id given: the row is sent), or it did not (the row is planned again and the next
    attempt sends it). The row's new state, or None when no held row has that id."""
    values: dict[str, Any] = {"updated_at": now}
    if provider_id or sent:
        state = DeliveryState.SENT
        values.update(provider_id=provider_id, last_error=None, finished_at=now)
    else:
        state = DeliveryState.PLANNED
        values.update(last_error="released by an editor: not received", available_at=now)
    statement = (
        update(deliveries)
        .where(deliveries.c.id == delivery_id, state_is(DeliveryState.HELD))
        .values(state=state.value, **values)
    )
    with writing(engine) as connection:
        changed = connection.execute(statement).rowcount
    return state if changed else None
