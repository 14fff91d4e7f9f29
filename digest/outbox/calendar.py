"""What the editor's calendar asks of the outbox: the post rows due in a week, by their slot (an
index range, whatever the size of the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, false, literal_column, select

from digest.models import DeliveryChannel
from digest.store.schema import deliveries


@dataclass(frozen=True, slots=True)
class PostSlot:
    id: int
    at: datetime  # when it falls due (its slot)
    digest_key: str
    channel: str
    state: str
    text: str


def post_slots(engine: Engine, start: datetime, end: datetime, *, limit: int) -> list[PostSlot]:
    """Social rows (test rows aside) falling due in [start, end), by time, at most `limit`."""
    columns = deliveries.c
    query = (
        select(
            columns.id,
            columns.available_at,
            columns.digest_key,
            columns.target,
            columns.state,
            columns.payload,
        )
        .where(
            # A literal: SQLite uses the partial index only when the WHERE names its value.
            columns.channel == literal_column(f"'{DeliveryChannel.SOCIAL.value}'"),
            columns.is_test == false(),
            columns.available_at >= start,
            columns.available_at < end,
        )
        .order_by(columns.available_at, columns.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [
            PostSlot(
                id=row.id,
                at=row.available_at,
                digest_key=row.digest_key,
                channel=row.target,
                state=row.state,
                text=str((row.payload or {}).get("text") or ""),
            )
            for row in connection.execute(query)
        ]
