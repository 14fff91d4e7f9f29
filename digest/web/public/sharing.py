"""What the archive shows to feed readers and link previews: the published digests, an Atom
(RFC 4287) and a JSON Feed 1.1 of them, and each archive page's sharing tags (Open Graph,
Twitter Card, canonical link), its site header and a way back to the archive.

Absolute URLs come from `site.base_url`, never from the request. Text is escaped: feeds by
ElementTree and json, tags and entries by the autoescaping templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree

from digest.context import Context
from digest.links import archive_url
from digest.models import Digest
from digest.render.cards import OPEN_GRAPH, card_alt, card_path
from digest.render.email import preheader
from digest.store.store import DigestSummary

FEED_SIZE = 20  # the newest digests a feed lists
ATOM = "http://www.w3.org/2005/Atom"
JSON_FEED = "https://jsonfeed.org/version/1.1"


def published(ctx: Context) -> list[DigestSummary]:
    """Digests released to their readers, newest first (a stored one may be held, or waiting
    for approval or for its time)."""
    return [summary for summary in ctx.store.digest_summaries() if summary.planned_at]


@dataclass(frozen=True, slots=True)
class ShareImage:
    url: str
    alt: str
    width: int
    height: int


def share_image(ctx: Context, digest: Digest) -> ShareImage | None:
    """The picture a link preview shows: the share card of the top story (web/public/cards.py
    draws it on the preview's first request), at Open Graph's size."""
    if not digest.entries:
        return None
    base = ctx.settings.site.base_url.rstrip("/")
    return ShareImage(
        url=f"{base}/{card_path(digest.key, 1, OPEN_GRAPH)}",
        alt=card_alt(digest.entries[0]),
        width=OPEN_GRAPH.width,
        height=OPEN_GRAPH.height,
    )


@dataclass(frozen=True, slots=True)
class Shared:
    """A digest as feeds and previews describe it."""

    digest: Digest
    url: str  # its archive page, the canonical address
    description: str
    image: ShareImage | None

    @classmethod
    def of(cls, ctx: Context, digest: Digest) -> Shared:
        return cls(
            digest=digest,
            url=archive_url(ctx.settings.site, digest.key),
            description=preheader(digest),
            image=share_image(ctx, digest),
        )


def _newest(ctx: Context) -> Iterator[Shared]:
    for summary in published(ctx)[:FEED_SIZE]:
        digest = ctx.store.load_digest(summary.key)
        if digest is not None:
            yield Shared.of(ctx, digest)


def entries_html(ctx: Context, shared: Shared) -> str:
    return ctx.env.get_template("web/archive/feed_entry.html.j2").render(
        digest=shared.digest, site=ctx.settings.site
    )


def _base(ctx: Context) -> str:
    return ctx.settings.site.base_url.rstrip("/")


def atom_feed(ctx: Context) -> bytes:
    site, base = ctx.settings.site, _base(ctx)
    shared = list(_newest(ctx))
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    add(feed, "id", f"{base}/archive")
    add(feed, "title", site.name)
    add(feed, "subtitle", f"Past digests of {site.name}")
    updated = max((item.digest.generated_at for item in shared), default=ctx.clock())
    add(feed, "updated", _when(updated))
    add(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/archive/feed.atom")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base}/archive")
    author = add(feed, "author")
    add(author, "name", site.name)
    for item in shared:
        entry = add(feed, "entry")
        add(entry, "id", item.url)
        add(entry, "title", item.digest.title)
        add(entry, "updated", _when(item.digest.generated_at))
        add(entry, "published", _when(item.digest.generated_at))
        add(entry, "link", rel="alternate", type="text/html", href=item.url)
        add(entry, "summary", item.description)
        add(entry, "content", entries_html(ctx, item), type="html")
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)


def add(
    parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str
) -> ElementTree.Element:
    """An Atom element under `parent`."""
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = _xml_text(text)
    return element


def json_feed(ctx: Context) -> bytes:
    site, base = ctx.settings.site, _base(ctx)
    items = []
    for item in _newest(ctx):
        entry = {
            "id": item.url,
            "url": item.url,
            "title": item.digest.title,
            "summary": item.description,
            "content_html": entries_html(ctx, item),
            "date_published": _when(item.digest.generated_at),
        }
        if item.image:
            entry["image"] = item.image.url
        items.append(entry)
    feed = {
        "version": JSON_FEED,
        "title": site.name,
        "home_page_url": f"{base}/archive",
        "feed_url": f"{base}/archive/feed.json",
        "description": f"Past digests of {site.name}",
        "authors": [{"name": site.name, "url": base}],
        "language": "en",
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=1).encode()


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    # Characters XML 1.0 cannot hold at all, even escaped: dropped rather than a broken feed.
    return _NOT_XML.sub("", text)


def with_page_parts(html: str, head: str, top: str) -> str:
    """The digest's web version with `head` at the end of its <head> and `top` at the start of
    its <body> (the sharing tags; the site header and the way back)."""
    html = re.sub(r"</head\s*>", lambda match: head + match.group(0), html, count=1, flags=re.I)
    return re.sub(r"<body\b[^>]*>", lambda match: match.group(0) + top, html, count=1, flags=re.I)
