"""How This Connects: the story each entry of a company digest belongs to, as the site tells it.

An entry gets up to two timelines, each saying what it is based on: the entry's main topic
("Based on Foundation Models · Case Studies": other companies' news on it) and the company
("Based on Mistral AI": the company's other news). A timeline runs most recent first, day by day, a
day's items in rank order, and holds the entry itself at its place in time (the site's "THIS
ARTICLE"). An email never lists one of its own entries, nor one item twice: an item goes to the
first entry, in the email's order, whose timeline reaches it.

`Lookback` sorts the items once and indexes them by company and by topic, so each entry costs
what its timelines list (plus the items it skips), never a pass over the whole look-back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, tzinfo

from digest.models import AmwRead, Company, Connection, Digest, NewsItem, Section

TimelineKey = tuple[int, int, int, float, str]


def relative_age(then: datetime, now: datetime) -> str:
    """ "today", "3d ago", "2w ago", "4mo ago", "1y ago": calendar days in `now`'s zone, so that
    Sunday's news in a digest dated Monday 00:00 is "1d ago", as a reader counts."""
    days = (now.date() - then.astimezone(now.tzinfo).date()).days
    if days < 1:
        return "today"
    if days < 7:
        return f"{days}d ago"
    if days < 30:
        return f"{days // 7}w ago"
    if days < 365:
        return f"{days // 30}mo ago"
    return f"{days // 365}y ago"


class Lookback:
    """The items timelines are drawn from (a digest's window and the look-back before it)."""

    def __init__(
        self,
        items: Iterable[NewsItem],
        reads: Mapping[str, AmwRead],
        companies: Mapping[str, Company],
        zone: tzinfo,
    ) -> None:
        self._reads = reads
        self._companies = companies
        self._zone = zone
        self._by_company: dict[str, list[NewsItem]] = {}
        self._by_topic: dict[str, list[NewsItem]] = {}
        for item in sorted(items, key=self.key):
            for slug in dict.fromkeys(item.companies):
                self._by_company.setdefault(slug, []).append(item)
            for topic in dict.fromkeys(item.topics):
                self._by_topic.setdefault(topic, []).append(item)

    def key(self, item: NewsItem) -> TimelineKey:
        """Most recent day first; within a day, significance, then novelty, then time."""
        read = self._reads.get(item.id)
        significance, novelty = (read.significance, read.novelty) if read else (0, 0)
        day = item.published_at.astimezone(self._zone).date().toordinal()
        return (-day, -significance, -novelty, -item.published_at.timestamp(), item.id)

    def connect(self, digest: Digest, *, limit: int, leave_out: Iterable[str] = ()) -> Digest:
        """`digest` with each entry's timelines of up to `limit` items each (none when 0);
        `leave_out`: items an editor dropped from the email, listed by no timeline either."""
        shown = {entry.item.id for entry in digest.entries} | set(leave_out)  # grows as it goes
        sections = []
        for section in digest.sections:
            entries = []
            for entry in section.entries:
                connections = self._timelines(entry.item, digest, limit=limit, skip=shown)
                shown.update(c.item.id for c in connections)
                entries.append(replace(entry, connections=connections))
            sections.append(Section(section.title, tuple(entries)))
        return replace(digest, sections=tuple(sections))

    def _timelines(
        self, item: NewsItem, digest: Digest, *, limit: int, skip: set[str]
    ) -> tuple[Connection, ...]:
        if limit <= 0:
            return ()
        own = _company_of(item, digest)
        timelines: list[tuple[str, list[NewsItem]]] = []
        if item.topics:  # first, as on the site's page
            topic = item.topics[0]
            others = (o for o in self._by_topic.get(topic, ()) if own not in o.companies)
            timelines.append((topic, self._take(others, digest, limit, skip)))
        if own is not None:
            found = self._take(self._by_company.get(own, ()), digest, limit, skip)
            timelines.append((self._name(own), found))
        return tuple(
            connection
            for basis, found in timelines
            if found
            for connection in self._timeline(item, basis, found, digest.generated_at)
        )

    def _take(
        self, ordered: Iterable[NewsItem], digest: Digest, limit: int, skip: set[str]
    ) -> list[NewsItem]:
        found: list[NewsItem] = []
        for other in ordered:
            if other.id in skip or other.published_at >= digest.window_end:
                continue
            found.append(other)
            if len(found) == limit:
                break
        return found

    def _timeline(
        self, item: NewsItem, basis: str, found: Sequence[NewsItem], now: datetime
    ) -> Iterator[Connection]:
        for other in sorted([*found, item], key=self.key):
            yield Connection(
                item=other,
                age=relative_age(other.published_at, now),
                basis=basis,
                company_names=()
                if other.id == item.id
                else tuple(self._name(slug) for slug in other.companies if slug in self._companies),
                is_entry=other.id == item.id,
            )

    def _name(self, slug: str) -> str:
        company = self._companies.get(slug)
        return company.name if company is not None else slug


def _company_of(item: NewsItem, digest: Digest) -> str | None:
    """The company a timeline follows: the digest's own, else the item's first."""
    if digest.company is not None and digest.company.slug in item.companies:
        return digest.company.slug
    return item.companies[0] if item.companies else None
