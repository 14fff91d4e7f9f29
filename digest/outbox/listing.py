"""A digest's outbox rows for the API, paged by id (keyset: a page costs the same however deep,
and rows planned meanwhile are neither skipped nor repeated)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from digest.models import Delivery, DeliveryState
from digest.outbox.rows import DELIVERY_COLUMNS, delivery_from_row
from digest.store.schema import deliveries


def deliveries_page(
    engine: Engine,
    digest_key: str,
    *,
    state: DeliveryState | None,
    after: int | None,
    limit: int,
) -> list[Delivery]:
    """A digest's rows by id, only those in `state` if given."""
    query = (
        select(*DELIVERY_COLUMNS)
        .where(deliveries.c.digest_key == digest_key)
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(deliveries.c.state == state.value)
    if after is not None:
        query = query.where(deliveries.c.id > after)
    with engine.connect() as connection:
        return [delivery_from_row(row) for row in connection.execute(query).mappings()]
