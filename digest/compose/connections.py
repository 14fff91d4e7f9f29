"""How This Connects: earlier related items, aged from the digest's date."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from digest.models import Company, Connection, NewsItem


def relative_age(then: datetime, now: datetime) -> str:
    """ "today", "3d ago", "2w ago", "4mo ago", "1y ago", counted in whole units from `now`."""
    days = (now - then).days
    if days < 1:
        return "today"
    if days < 7:
        return f"{days}d ago"
    if days < 30:
        return f"{days // 7}w ago"
    if days < 365:
        return f"{days // 30}mo ago"
    return f"{days // 365}y ago"


def connections_for(
    item: NewsItem,
    candidates: Sequence[NewsItem],
    companies: Mapping[str, Company],
    *,
    now: datetime,
    limit: int,
) -> tuple[Connection, ...]:
    """Items published before `item` that share one of its companies or its main topic.

    Most recent first; a shared company says more than a shared topic, so it is the basis shown
    when both hold.
    """
    main_topic = item.topics[0] if item.topics else None
    related: list[Connection] = []
    for other in sorted(candidates, key=lambda c: (c.published_at, c.id), reverse=True):
        if other.id == item.id or other.published_at >= item.published_at:
            continue
        shared = [slug for slug in other.companies if slug in item.companies]
        if shared:
            basis = companies[shared[0]].name if shared[0] in companies else shared[0]
        elif main_topic is not None and main_topic in other.topics:
            basis = main_topic
        else:
            continue
        related.append(
            Connection(
                item=other,
                age=relative_age(other.published_at, now),
                basis=basis,
                company_names=tuple(
                    companies[slug].name for slug in other.companies if slug in companies
                ),
            )
        )
        if len(related) == limit:
            break
    return tuple(related)
