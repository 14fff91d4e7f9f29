"""RSS and Atom feeds → item records, via feedparser on bytes we already hold.

Mapping (docs/input-format.md): guid/id → id, title, summary/description → summary, link → url
(an Atom entry with a rel="related" link: that one → url, its own page → page_url),
published/updated → published_at; categories naming a known company slug → companies, the first
other category → category, the rest → topics.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import IO

import feedparser

from digest.errors import Problem
from digest.ingest.checks import quoted
from digest.ingest.fields import Loc, Record
from digest.ingest.limits import MAX_DOCUMENT_BYTES
from digest.ingest.validate import RawRecord

EXAMPLE_DATE = "Fri, 27 Nov 2026 09:30:00 +0100"
MISSING = {
    "id": "missing; give the entry a <guid> (RSS) or an <id> (Atom)",
    "title": "missing; give the entry a <title>",
    "summary": "missing; give the entry a <description> (RSS) or a <summary> (Atom)",
    "url": "missing; give the entry a <link>",
    "published_at": "missing; give the entry a <pubDate> (RSS) or <published> (Atom)",
    "companies": "no <category> names a known company; add one with the company's slug",
    "category": "missing; add a <category> besides the company slugs, e.g. Expansion",
}
_DECLARED = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml")
# feedparser flags these on perfectly usable feeds (e.g. a charset header that disagrees).
_HARMLESS = (feedparser.ThingsNobodyCaresAboutButMe,)


_INLINE = frozenset(
    ["a", "abbr", "b", "cite", "code", "em", "i", "q", "small", "span", "strong", "sub", "sup"]
)


class _Text(HTMLParser):
    """Collects the text of an HTML fragment: summaries are shown as text, not markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities come out decoded, exactly once
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self.parts.append(" ")  # "<p>a</p><p>b</p>" reads "a b", not "ab"

    def handle_endtag(self, tag: str) -> None:
        self.handle_starttag(tag, [])


def plain(value: str, content_type: str) -> str:
    """The text of an HTML value (by feedparser's content type), whitespace collapsed."""
    if "html" not in content_type:
        return value
    parser = _Text()
    parser.feed(value)
    parser.close()
    return " ".join("".join(parser.parts).split())


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """An entry waiting for the set of company slugs that sorts its categories.

    `number` is its index in the feed; `missing` words the "missing" problems the feed's way.
    """

    loc: Loc
    data: Record
    categories: tuple[str, ...]
    found: tuple[Problem, ...]
    number: int = 0
    missing: Mapping[str, str] = field(default_factory=lambda: MISSING)

    @property
    def key(self) -> str | None:
        value = self.data.get("id")
        return value.strip() or None if isinstance(value, str) else None

    def record(self, company_slugs: Collection[str]) -> RawRecord:
        companies = [term for term in self.categories if term in company_slugs]
        others = [term for term in self.categories if term not in company_slugs]
        data = dict(self.data)
        if companies:
            data["companies"] = companies
        if others:
            data["category"] = others[0]
            data["topics"] = others[1:]
        return RawRecord("item", self.loc, data, self.number, self.missing, self.found)


def entry_date(raw: str) -> tuple[datetime | None, str | None]:
    """RFC 3339 (Atom) or RFC 822 (RSS) date with its zone, or what is wrong with it."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None, f"{quoted(raw)} is not a date; write it as {EXAMPLE_DATE}"
    if parsed.tzinfo is None:
        # parsedate_to_datetime also gives a naive datetime for "-0000", "zone unknown".
        return None, f"{quoted(raw)} has no time zone; write it as {EXAMPLE_DATE}"
    return parsed, None


def feed_records(stream: IO[bytes], where: str) -> Iterator[FeedEntry | Problem]:
    """An RSS or Atom feed's entries (read whole, up to MAX_DOCUMENT_BYTES)."""
    body = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        megabytes = MAX_DOCUMENT_BYTES // (1024 * 1024)
        yield Problem(where, "", "", f"larger than {megabytes} MB; split the feed")
        return
    entries, problems = parse_feed(body, where)
    yield from problems
    yield from entries


def parse_feed(body: bytes, where: str) -> tuple[list[FeedEntry], list[Problem]]:
    # A stream, never bytes: feedparser would try bytes as a file name first and read that file.
    parsed = feedparser.parse(io.BytesIO(body))
    error = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(error, _HARMLESS):
        line = getattr(error, "getLineNumber", lambda: None)()
        if line and not _DECLARED.match(body):
            line -= 1  # feedparser put a "<?xml …?>" line of its own in front before parsing
        record = f"line {line}" if line else ""
        reason = getattr(error, "getMessage", lambda: str(error))()
        return [], [Problem(where, record, "", f"not a valid RSS or Atom feed: {reason}")]
    if not parsed.get("version") and not parsed.entries:
        return [], [Problem(where, "", "", "not an RSS or Atom feed")]
    return [
        _entry(entry, Loc(where, f"entries[{i}]"), i) for i, entry in enumerate(parsed.entries)
    ], []


def _related(entry: Record) -> str | None:
    """The href of an Atom entry's rel="related" link: the source it is about."""
    links = entry.get("links")
    for link in links if isinstance(links, list) else ():
        if isinstance(link, Mapping) and link.get("rel") == "related" and link.get("href"):
            href = link["href"]
            return href if isinstance(href, str) else None
    return None


def _entry(entry: Record, loc: Loc, number: int) -> FeedEntry:
    data: dict[str, object] = {}
    if entry.get("id"):
        data["id"] = entry["id"]
    related = _related(entry)
    if related and entry.get("link"):
        data["url"], data["page_url"] = related, entry["link"]
    elif entry.get("link"):
        data["url"] = entry["link"]
    for name, key in (("title", "title"), ("summary", "summary")):
        detail = entry.get(f"{key}_detail")
        content_type = detail.get("type", "") if isinstance(detail, Mapping) else ""
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            data[name] = plain(value, content_type)
    found = dated(data, entry.get("published") or entry.get("updated"), loc)
    tags = entry.get("tags")
    tags = tags if isinstance(tags, list) else []
    terms = tuple(
        term.strip()
        for tag in tags
        if isinstance(tag, Mapping) and isinstance(term := tag.get("term"), str) and term.strip()
    )
    return FeedEntry(loc, data, terms, found, number)


def dated(data: dict[str, object], raw: object, loc: Loc) -> tuple[Problem, ...]:
    """Put an entry's date in `data` as published_at, or say what is wrong with it."""
    if not isinstance(raw, str) or not raw.strip():
        return ()
    when, problem = entry_date(raw.strip())
    if when:
        data["published_at"] = when
        return ()
    return (Problem(loc.where, loc.record, "published_at", problem or ""),)
