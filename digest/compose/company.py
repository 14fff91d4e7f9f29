"""Per-company digests: everything new about one company, and how it connects to other news."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from digest.compose.connections import Lookback
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
    """The company's items of `week`, ranked, each with its timelines among `items`.

    `items` holds the window and the look-back before it; None when the company has nothing new.
    """
    start, end = week.window(zone)
    own = [i for i in items if company.slug in i.companies and start <= i.published_at < end]
    if not own:
        return None
    digest = _digest(company, week, zone, own, reads, companies)
    return Lookback(items, reads, companies, zone).connect(digest, limit=connections)


def compose_company_digests(
    week: IsoWeek,
    zone: ZoneInfo,
    items: Sequence[NewsItem],
    reads: Mapping[str, AmwRead],
    companies: Mapping[str, Company],
    *,
    connections: int,
) -> Iterator[Digest]:
    """One digest per company with items in `week`, in slug order: one pass over `items` and
    one look-back index for them all."""
    start, end = week.window(zone)
    news: dict[str, list[NewsItem]] = {}
    for item in items:
        if start <= item.published_at < end:
            for slug in dict.fromkeys(item.companies):
                news.setdefault(slug, []).append(item)
    lookback = Lookback(items, reads, companies, zone)
    for slug in sorted(news.keys() & companies.keys()):
        digest = _digest(companies[slug], week, zone, news[slug], reads, companies)
        yield lookback.connect(digest, limit=connections)


def _digest(
    company: Company,
    week: IsoWeek,
    zone: ZoneInfo,
    own: Sequence[NewsItem],
    reads: Mapping[str, AmwRead],
    companies: Mapping[str, Company],
) -> Digest:
    start, end = week.window(zone)
    entries = tuple(make_entry(item, reads, companies) for item in rank_items(own, reads))
    return Digest(
        kind=DigestKind.COMPANY,
        key=f"company:{company.slug}:{week}",
        title=f"{company.name}: what's new",
        window_start=start,
        window_end=end,
        sections=(Section(title=f"New from {company.name}", entries=entries),),
        generated_at=digest_date(end),
        company=company,
    )
