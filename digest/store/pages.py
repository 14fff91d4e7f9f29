"""Keyset pages of items, for the API: each page starts after the last row of
the previous one (`after`), so a page costs the same however deep, and rows written meanwhile
are neither skipped nor repeated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, or_, select

from digest.models import NewsItem
from digest.store.rows import items_from_rows
from digest.store.schema import item_companies, items


def items_page(
    engine: Engine,
    *,
    start: datetime | None,
    end: datetime | None,
    company: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[NewsItem]:
    """Items by (published_at, id), published in [start, end) and about `company` if given."""
    query = select(items).order_by(items.c.published_at, items.c.id).limit(limit)
    if start is not None:
        query = query.where(items.c.published_at >= start)
    if end is not None:
        query = query.where(items.c.published_at < end)
    if company is not None:
        about = select(item_companies.c.item_id).where(item_companies.c.company_slug == company)
        query = query.where(items.c.id.in_(about))
    if after is not None:
        at, item_id = after
        query = query.where(
            or_(items.c.published_at > at, and_(items.c.published_at == at, items.c.id > item_id))
        )
    with engine.connect() as connection:
        return items_from_rows(connection, connection.execute(query).all())
