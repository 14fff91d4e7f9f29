"""The weekly digest: the week's most significant items across all companies, grouped by topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from digest.compose.weeks import IsoWeek
from digest.models import AmwRead, Company, Digest, DigestKind, Entry, NewsItem, Section

UNFILED_TOPIC = "More news"
WEEKLY_TITLE = "The week in AI"


def rank_items(items: Sequence[NewsItem], reads: Mapping[str, AmwRead]) -> list[NewsItem]:
    """Significance, then novelty, then recency, highest first; the id breaks exact ties.

    An item without an AMW Read ranks below every rated one.
    """

    def key(item: NewsItem) -> tuple[int, int, float, str]:
        read = reads.get(item.id)
        significance, novelty = (read.significance, read.novelty) if read else (0, 0)
        return (-significance, -novelty, -item.published_at.timestamp(), item.id)

    return sorted(items, key=key)


def main_topic(item: NewsItem) -> str:
    return item.topics[0] if item.topics else UNFILED_TOPIC


def make_entry(
    item: NewsItem, reads: Mapping[str, AmwRead], companies: Mapping[str, Company]
) -> Entry:
    return Entry(
        item=item,
        read=reads.get(item.id),
        companies=tuple(companies[slug] for slug in item.companies if slug in companies),
    )


def group_by_topic(entries: Sequence[Entry]) -> tuple[Section, ...]:
    """Sections in the order of their best-ranked entry; entries keep their rank order."""
    sections: dict[str, list[Entry]] = {}
    for entry in entries:
        sections.setdefault(main_topic(entry.item), []).append(entry)
    return tuple(Section(title=topic, entries=tuple(group)) for topic, group in sections.items())


def compose_weekly_digest(
    week: IsoWeek,
    zone: ZoneInfo,
    items: Sequence[NewsItem],
    reads: Mapping[str, AmwRead],
    companies: Mapping[str, Company],
    *,
    top: int,
) -> Digest:
    """The top `top` items published in `week` (in `zone`), ranked and grouped by topic; the
    week's other items about a company wait in `company_entries` for those who follow it."""
    start, end = week.window(zone)
    in_window = [item for item in items if start <= item.published_at < end]
    everything = rank_items(in_window, reads)
    ranked, others = everything[:top], everything[top:]
    return Digest(
        kind=DigestKind.WEEKLY,
        key=f"weekly:{week}",
        title=WEEKLY_TITLE,
        window_start=start,
        window_end=end,
        sections=group_by_topic([make_entry(item, reads, companies) for item in ranked]),
        generated_at=digest_date(end),
        company_entries=tuple(
            make_entry(item, reads, companies) for item in others if item.companies
        ),
    )


def digest_date(window_end: datetime) -> datetime:
    """A digest is dated at the end of its window, so its ages never depend on the clock."""
    return window_end
