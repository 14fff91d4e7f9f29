"""The figures of a report: what readers did with one digest, and the trends of recent weeks.

Pure functions from what the store counted (store/engagement.py) to tables (`digest_report`,
`channel_trend`, `company_trend`); `read_digest_report` and `read_trends` fetch their inputs.
`digest report` prints the tables (or writes them as CSV) and the editor's report page draws
them. Opens are estimates at best (images blocked, proxies), "unique readers" too unless tracking
is per subscriber: the tables say so. Scanners' clicks and Apple Mail's prefetches are shown
apart, never added to readers'.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from digest.compose.weeks import IsoWeek
from digest.engagement.tokens import EMAIL_CHANNEL
from digest.models import Digest
from digest.settings import TrackingSettings
from digest.store import Store
from digest.store.engagement import (
    HourCount,
    LinkCount,
    delivered_counts,
    digest_totals,
    hour_counts,
    link_counts,
    reader_counts,
    readers_by_digest,
)
from digest.store.store import DigestSummary

Cell = str | int

TREND_WEEKS = 12
READERS = "unique readers (estimated)"


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a report, as shown and as exported (`name` is its CSV file's name)."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class LinkFigures:
    channel: str
    link: str  # "item:ID", "connection:ID", "profile:SLUG", "post:KEY"
    label: str  # what the link is, in words
    clicks: int  # by readers
    scanner_clicks: int


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    channel: str
    delivered: int  # emails sent, or posts published
    readers: int  # unique readers (estimated)
    clicks: int
    scanner_clicks: int


@dataclass(frozen=True, slots=True)
class DigestReport:
    digest_key: str
    title: str
    delivered: int  # emails
    readers: int  # unique readers on any channel (estimated)
    clicks: int
    scanner_clicks: int
    opens: int  # estimated
    prefetches: int  # Apple Mail Privacy Protection: not reads
    scanner_opens: int
    links: tuple[LinkFigures, ...]  # most clicked first
    channels: tuple[ChannelFigures, ...]
    per_subscriber: bool  # readers are subscribers (exact for clicks), not clients

    @property
    def readers_basis(self) -> str:
        """Who counts as one reader, in words."""
        if self.per_subscriber:
            return "a subscriber who clicked or opened"
        return "a browser (address and user agent, each day) that clicked or opened"

    def summary(self) -> Table:
        rows: list[tuple[Cell, ...]] = [
            ("emails delivered", self.delivered),
            (READERS, self.readers),
            ("clicks by readers", self.clicks),
            ("clicks by scanners and bots (not readers)", self.scanner_clicks),
            ("opens (estimated)", self.opens),
            ("Apple Mail prefetches (not reads)", self.prefetches),
            ("opens by scanners", self.scanner_opens),
        ]
        return Table("summary", "Summary", ("figure", "value"), tuple(rows))

    def links_table(self) -> Table:
        return Table(
            "links",
            "Clicks per link",
            ("channel", "link", "label", "clicks by readers", "clicks by scanners"),
            tuple(
                (row.channel, row.link, row.label, row.clicks, row.scanner_clicks)
                for row in self.links
            ),
        )

    def channels_table(self) -> Table:
        return Table(
            "channels",
            "Per channel",
            ("channel", "delivered", READERS, "clicks by readers", "clicks by scanners"),
            tuple(
                (row.channel, row.delivered, row.readers, row.clicks, row.scanner_clicks)
                for row in self.channels
            ),
        )

    def tables(self) -> tuple[Table, ...]:
        return (self.summary(), self.links_table(), self.channels_table())


def tables_csv(tables: Sequence[Table], only: str | None = None) -> str:
    """Every table as CSV, each after a "# name" line; `only`: that table alone, plain CSV."""
    if only is not None:
        return next(table.csv() for table in tables if table.name == only)
    return "\n".join(f"# {table.name}\n{table.csv()}" for table in tables)


def digests_table(
    summaries: Sequence[DigestSummary],
    totals: Mapping[str, tuple[int, int, int]],
    readers: Mapping[str, Mapping[str, int]],
) -> Table:
    """One row per digest, newest first: delivered, unique readers, clicks (store.engagement's
    digest_totals and reader_counts)."""
    return Table(
        "digests",
        "Digests",
        ("digest", "title", "emails delivered", READERS, "clicks by readers", "clicks by scanners"),
        tuple(
            (
                summary.key,
                summary.title,
                totals.get(summary.key, (0, 0, 0))[0],
                readers.get(summary.key, {}).get("", 0),
                *totals.get(summary.key, (0, 0, 0))[1:],
            )
            for summary in summaries
        ),
    )


def link_labels(digest: Digest | None) -> dict[str, str]:
    """Each link name a digest's emails use, in words (its item's title, its company's name)."""
    if digest is None:
        return {}
    labels: dict[str, str] = {}
    for entry in digest.entries:
        labels[f"item:{entry.item.id}"] = entry.item.title
        for connection in entry.connections:
            if connection.is_entry:
                continue  # the entry's own line in its timeline, not a link
            labels[f"connection:{connection.item.id}"] = f"Connection: {connection.item.title}"
    if digest.company is not None:
        labels[f"profile:{digest.company.slug}"] = f"{digest.company.name} profile"
    return labels


def _label(name: str, labels: Mapping[str, str]) -> str:
    if name in labels:
        return labels[name]
    kind, _, rest = name.partition(":")
    return f"post {rest}" if kind == "post" else name


def digest_report(
    digest_key: str,
    *,
    digest: Digest | None,
    delivered: Mapping[str, int],
    counts: Sequence[LinkCount],
    readers: Mapping[str, int],
    per_subscriber: bool,
) -> DigestReport:
    """A digest's report from its counts (store.engagement.link_counts), deliveries per channel
    (delivered_counts) and readers per channel, "" for any (reader_counts)."""
    labels = link_labels(digest)
    clicks: dict[tuple[str, str], list[int]] = {}
    opens = {"reader": 0, "prefetch": 0, "scanner": 0}
    for count in counts:
        if count.kind == "open":
            opens[count.verdict] = opens.get(count.verdict, 0) + count.count
            continue
        pair = clicks.setdefault((count.channel, count.link), [0, 0])
        pair[0 if count.verdict == "reader" else 1] += count.count
    links = sorted(
        (
            LinkFigures(channel, link, _label(link, labels), reader, scanner)
            for (channel, link), (reader, scanner) in clicks.items()
        ),
        key=lambda row: (-row.clicks, -row.scanner_clicks, row.channel, row.link),
    )
    names = sorted(
        {*delivered, *(channel for channel in readers if channel), *(c for c, _ in clicks)},
        key=lambda channel: (channel != EMAIL_CHANNEL, channel),
    )
    channels = tuple(
        ChannelFigures(
            channel=channel,
            delivered=delivered.get(channel, 0),
            readers=readers.get(channel, 0),
            clicks=sum(row.clicks for row in links if row.channel == channel),
            scanner_clicks=sum(row.scanner_clicks for row in links if row.channel == channel),
        )
        for channel in names
    )
    return DigestReport(
        digest_key=digest_key,
        title=digest.title if digest is not None else digest_key,
        delivered=delivered.get(EMAIL_CHANNEL, 0),
        readers=readers.get("", 0),
        clicks=sum(row.clicks for row in links),
        scanner_clicks=sum(row.scanner_clicks for row in links),
        opens=opens["reader"],
        prefetches=opens["prefetch"],
        scanner_opens=opens["scanner"],
        links=tuple(links),
        channels=channels,
        per_subscriber=per_subscriber,
    )


@dataclass(frozen=True, slots=True)
class Trend:
    """Values per week for a few named lines (a line chart, or a table of weeks)."""

    name: str
    title: str
    weeks: tuple[IsoWeek, ...]
    lines: tuple[tuple[str, tuple[int, ...]], ...]  # (name, one value per week)

    def table(self) -> Table:
        return Table(
            self.name,
            self.title,
            ("week", *(name for name, _ in self.lines)),
            tuple(
                (str(week), *(values[index] for _, values in self.lines))
                for index, week in enumerate(self.weeks)
            ),
        )


def last_weeks(now: datetime, zone: ZoneInfo, count: int = TREND_WEEKS) -> tuple[IsoWeek, ...]:
    """The `count` weeks up to the one `now` is in, oldest first."""
    weeks = [IsoWeek.containing(now, zone)]
    while len(weeks) < count:
        weeks.append(weeks[-1].previous())
    return tuple(reversed(weeks))


def channel_trend(hours: Iterable[HourCount], weeks: Sequence[IsoWeek], zone: ZoneInfo) -> Trend:
    """Readers' clicks per channel per week (from store.engagement.hour_counts)."""
    index = {week: position for position, week in enumerate(weeks)}
    lines: dict[str, list[int]] = {}
    for row in hours:
        position = index.get(IsoWeek.containing(row.hour, zone))
        if position is None:
            continue
        lines.setdefault(row.channel, [0] * len(weeks))[position] += row.count
    ordered = sorted(lines.items(), key=lambda item: (item[0] != EMAIL_CHANNEL, item[0]))
    return Trend(
        "channel_weeks",
        "Clicks by readers per channel, per week",
        tuple(weeks),
        tuple((name, tuple(values)) for name, values in ordered),
    )


def company_trend(
    readers: Mapping[str, int], names: Mapping[str, str], weeks: Sequence[IsoWeek]
) -> Trend:
    """Unique readers (estimated) of each company's digest, per week: `readers` by digest key
    ("company:SLUG:2026-W48"), `names` the companies' names by slug."""
    index = {week: position for position, week in enumerate(weeks)}
    lines: dict[str, list[int]] = {}
    for key, count in readers.items():
        kind, _, rest = key.partition(":")
        slug, _, week_text = rest.rpartition(":")
        if kind != "company" or not slug:
            continue
        try:
            position = index.get(IsoWeek.parse(week_text))
        except ValueError:
            continue
        if position is not None:
            lines.setdefault(names.get(slug, slug), [0] * len(weeks))[position] += count
    return Trend(
        "company_weeks",
        "Unique readers (estimated) of each company digest, per week",
        tuple(weeks),
        tuple((name, tuple(values)) for name, values in sorted(lines.items())),
    )


def read_digest_report(store: Store, tracking: TrackingSettings, key: str) -> DigestReport | None:
    """The report of the digest `key`, or None if the store knows nothing of it."""
    digest = store.load_digest(key)
    delivered = delivered_counts(store.engine, key)
    counts = link_counts(store.engine, key)
    if digest is None and not delivered and not counts:
        return None
    return digest_report(
        key,
        digest=digest,
        delivered=delivered,
        counts=counts,
        readers=reader_counts(store.engine, [key])[key],
        per_subscriber=tracking.per_subscriber,
    )


def read_trends(store: Store, now: datetime, zone: ZoneInfo) -> tuple[Trend, Trend]:
    """The last TREND_WEEKS weeks: per company digest, and per channel."""
    weeks = last_weeks(now, zone)
    since = weeks[0].window(zone)[0]
    names = {slug: company.name for slug, company in store.companies().items()}
    return (
        company_trend(readers_by_digest(store.engine, "company:"), names, weeks),
        channel_trend(hour_counts(store.engine, since=since), weeks, zone),
    )


def read_recent_digests(store: Store, since: datetime) -> Table:
    """The digests whose window starts from `since` on, with their figures."""
    summaries = [s for s in store.digest_summaries() if s.window_start >= since]
    keys = [summary.key for summary in summaries]
    return digests_table(
        summaries, digest_totals(store.engine, keys), reader_counts(store.engine, keys)
    )


@dataclass(frozen=True, slots=True)
class Overview:
    """The last TREND_WEEKS weeks: every digest's figures, and the two trends."""

    digests: Table
    companies: Trend
    channels: Trend

    def tables(self) -> tuple[Table, ...]:
        return (self.digests, self.companies.table(), self.channels.table())


def read_overview(store: Store, now: datetime, zone: ZoneInfo) -> Overview:
    companies, channels = read_trends(store, now, zone)
    since = companies.weeks[0].window(zone)[0]
    return Overview(read_recent_digests(store, since), companies, channels)
