"""Keyset pages of items, for the API: each page starts after the last row of
the previous one (`after`), so a page costs the same however deep, and rows written meanwhile
are neither skipped nor repeated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, or_, select

from digest.models import NewsItem
from digest.store.rows import item_from_row
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
        rows = connection.execute(query).all()
        ids = [row.id for row in rows]
        links = connection.execute(
            select(item_companies.c.item_id, item_companies.c.company_slug)
            .where(item_companies.c.item_id.in_(ids))
            .order_by(item_companies.c.item_id, item_companies.c.position)
        ).all()
    slugs: dict[str, list[str]] = {}
    for item_id, slug in links:
        slugs.setdefault(item_id, []).append(slug)
    return [item_from_row(row, tuple(slugs.get(row.id, ()))) for row in rows]
