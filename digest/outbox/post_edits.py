"""What the desk may change on a planned post: its text, its slot, whether it goes at all.

Only a row still planned changes: once a worker has claimed it the post is on its way, and the
change is refused rather than lost. Each function says whether it changed the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from digest.models import Delivery, DeliveryChannel, DeliveryState
from digest.outbox.rows import DELIVERY_COLUMNS, delivery_from_row, state_is, writing
from digest.store.schema import deliveries


def digest_posts(engine: Engine, digest_key: str) -> list[Delivery]:
    """The digest's post rows (test rows aside), by slot."""
    query = (
        select(*DELIVERY_COLUMNS)
        .where(
            deliveries.c.digest_key == digest_key,
            deliveries.c.channel == DeliveryChannel.SOCIAL.value,
            deliveries.c.is_test.is_(False),
        )
        .order_by(deliveries.c.available_at, deliveries.c.id)
    )
    with engine.connect() as connection:
        return [delivery_from_row(row) for row in connection.execute(query).mappings()]


def _change(engine: Engine, row_id: int, now: datetime, **values: Any) -> bool:
    statement = (
        update(deliveries)
        .where(
            deliveries.c.id == row_id,
            deliveries.c.channel == DeliveryChannel.SOCIAL.value,
            state_is(DeliveryState.PLANNED),
        )
        .values(updated_at=now, **values)
    )
    with writing(engine) as connection:
        return bool(connection.execute(statement).rowcount)


def rewrite_post(engine: Engine, row_id: int, payload: Mapping[str, Any], *, now: datetime) -> bool:
    """A planned post's new content (its text edited)."""
    return _change(engine, row_id, now, payload=dict(payload))


def move_post(engine: Engine, row_id: int, at: datetime, *, now: datetime) -> bool:
    """A planned post due at `at` instead (another slot, or now: "post now")."""
    return _change(engine, row_id, now, available_at=at)


def skip_post(engine: Engine, row_id: int, reason: str, *, now: datetime) -> bool:
    """A planned post that will not go: skipped, its slot free for another."""
    return _change(
        engine,
        row_id,
        now,
        state=DeliveryState.SKIPPED.value,
        last_error=reason,
        finished_at=now,
    )
