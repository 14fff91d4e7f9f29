"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) → item records, like RSS and Atom.

Mapping (docs/input-format.md): id → id (a number is read as text, as the spec asks), title,
summary (else content_text, else content_html reduced to text) → summary, external_url → url
and url → page_url when both are given (a site's feed links its own page and the source), else
url → url; date_published (else date_modified) → published_at; image → image_url; tags sort into
companies, category and topics as an RSS item's categories do. Items are named `items[N]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from digest.errors import Problem
from digest.ingest.checks import type_name
from digest.ingest.feeds import FeedEntry, plain
from digest.ingest.fields import Loc, Record

VERSION_PREFIX = "https://jsonfeed.org/version/"
MISSING = {
    "id": 'missing; give the item an "id"',
    "title": 'missing; give the item a "title"',
    "summary": 'missing; give the item a "summary", "content_text" or "content_html"',
    "url": 'missing; give the item a "url" (or an "external_url")',
    "published_at": 'missing; give the item a "date_published"',
    "companies": 'no tag names a known company; add one with the company\'s slug to "tags"',
    "category": 'missing; add a tag besides the company slugs to "tags", e.g. Expansion',
}


def is_json_feed(data: object) -> bool:
    version = data.get("version") if isinstance(data, Mapping) else None
    return isinstance(version, str) and version.startswith(VERSION_PREFIX)


def json_feed_entries(feed: Mapping[str, object], where: str) -> Iterator[FeedEntry | Problem]:
    items = feed.get("items")
    if not isinstance(items, list):
        yield Problem(where, "", "items", f"must be a list, got {type_name(items)}")
        return
    for index, element in enumerate(items):
        loc = Loc(where, f"items[{index}]")
        if isinstance(element, Mapping):
            yield _entry(element, loc, index)
        else:
            message = f"must be a mapping of fields, got {type_name(element)}"
            yield Problem(where, loc.record, "", message)


def _entry(item: Record, loc: Loc, number: int) -> FeedEntry:
    data: dict[str, object] = {}
    item_id = item.get("id")
    if isinstance(item_id, int | float) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if item_id is not None:
        data["id"] = item_id
    for name in ("title", "summary"):
        if item.get(name) is not None:
            data[name] = item[name]
    if "summary" not in data:
        if isinstance(text := item.get("content_text"), str) and text.strip():
            data["summary"] = text
        elif isinstance(html := item.get("content_html"), str) and html.strip():
            data["summary"] = plain(html, "text/html")
    url, external = item.get("url"), item.get("external_url")
    if external is not None and url is not None:
        data["url"], data["page_url"] = external, url
    elif (url if url is not None else external) is not None:
        data["url"] = url if url is not None else external
    when = item.get("date_published") or item.get("date_modified")
    if when is not None:
        data["published_at"] = when
    if item.get("image") is not None:
        data["image_url"] = item["image"]
    tags = item.get("tags")
    terms = tuple(
        tag.strip()
        for tag in (tags if isinstance(tags, list) else ())
        if isinstance(tag, str) and tag.strip()
    )
    return FeedEntry(loc, data, terms, (), number, MISSING)
