"""Per-company digests: everything new about one company, and how it connects to earlier items."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from digest.compose.connections import connections_for
from digest.compose.weekly import digest_date, make_entry, rank_items
from digest.compose.weeks import IsoWeek
from digest.models import AmwRead, Company, Digest, DigestKind, NewsItem, Section


def compose_company_digest(
    company: Company,
    week: IsoWeek,
    zone: ZoneInfo,
    items: Sequence[NewsItem],
    reads: Mapping[str, AmwRead],
    companies: Mapping[str, Company],
    *,
    connections: int,
) -> Digest | None:
    """The company's items of `week`, ranked, each with its connections among `items`.

    `items` holds the window and the look-back before it; None when the company has nothing new.
    """
    start, end = week.window(zone)
    now = digest_date(end)
    own = [
        item
        for item in items
        if company.slug in item.companies and start <= item.published_at < end
    ]
    if not own:
        return None
    earlier = [item for item in items if item.published_at < end]
    entries = tuple(
        replace(
            make_entry(item, reads, companies),
            connections=connections_for(item, earlier, companies, now=now, limit=connections),
        )
        for item in rank_items(own, reads)
    )
    return Digest(
        kind=DigestKind.COMPANY,
        key=f"company:{company.slug}:{week}",
        title=f"{company.name}: what's new",
        window_start=start,
        window_end=end,
        sections=(Section(title=f"New from {company.name}", entries=entries),),
        generated_at=now,
        company=company,
    )


def compose_company_digests(
    week: IsoWeek,
    zone: ZoneInfo,
    items: Sequence[NewsItem],
    reads: Mapping[str, AmwRead],
    companies: Mapping[str, Company],
    *,
    connections: int,
) -> Iterator[Digest]:
    """One digest per company with items in `week`, in slug order."""
    for slug in sorted(companies):
        digest = compose_company_digest(
            companies[slug], week, zone, items, reads, companies, connections=connections
        )
        if digest is not None:
            yield digest
