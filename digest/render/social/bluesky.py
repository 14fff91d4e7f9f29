"""Bluesky: at most 300 graphemes and 3,000 UTF-8 bytes; a URL counts in full.

Links and hashtags are plain text to Bluesky unless the record carries *facets* for them, which
index the text by UTF-8 byte offsets; link cards are not made by the server either, so the
record carries an `app.bsky.embed.external` for the post's link.

A link is shown the way Bluesky's own app shows a pasted one (`toShortUrl`: the host and the
first 13 characters of the path, then "..."), its facet carrying the full URL: a tracked or
tagged link would otherwise take half a post. Other links and bare domains in the text
("x.ai") are linked as @atproto/api's `RichText.detectFacets` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import regex

from digest.render.social.counting import Platform, grapheme_count

MAX_TAG_GRAPHEMES = 64
_SHORT_PATH = 15  # toShortUrl: a longer path is cut to its first 13 characters and "..."
# @atproto/api's URL_REGEX (flags gim) and its trailing-punctuation rule.
_DETECTED_URL = regex.compile(
    r"(^|\s|\()((https?:\/\/[\S]+)|((?P<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)[\S]*))",
    regex.IGNORECASE | regex.MULTILINE,
)
_ENDING_PUNCTUATION = regex.compile(r"[.,;:!?]$")


class BlueskyPlatform(Platform):
    name = "bluesky"
    max_length = 300
    max_hashtags: ClassVar[int | None] = 3  # more reads as spam
    max_bytes: ClassVar[int] = 3000
    threads: ClassVar[bool] = True
    says_language: ClassVar[bool] = True

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.max_length and len(text.encode("utf-8")) <= self.max_bytes

    def shown_link(self, url: str) -> str:
        return short_url(url)


def short_url(url: str) -> str:
    """What Bluesky's app shows of a link (social-app's `toShortUrl`)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return url
    path = "" if parts.path == "/" else parts.path
    path += f"?{parts.query}" if parts.query else ""
    path += f"#{parts.fragment}" if parts.fragment else ""
    if len(path) > _SHORT_PATH:
        return parts.netloc + path[: _SHORT_PATH - 2] + "..."
    return parts.netloc + path


def _valid_domain(domain: str) -> bool:
    """@atproto/api's isValidDomain: the domain ends in a known top-level domain (as written:
    the list is lower case)."""
    from twitter_text.regexp.valid_cctld import valid_cctld  # see counting.url_spans
    from twitter_text.regexp.valid_gtld import valid_gtld

    top = domain.rsplit(".", 1)[-1]
    return bool(valid_gtld.fullmatch(top) or valid_cctld.fullmatch(top))


def detected_links(text: str) -> list[tuple[int, int, str]]:
    """(start, end, uri) of each link @atproto/api's RichText detects: URLs with a scheme, and
    bare domains with a known top-level domain (given https://)."""
    found = []
    for match in _DETECTED_URL.finditer(text):
        uri = match.group(2)
        domain = match.group("domain")
        if not uri.lower().startswith("http"):
            if not domain or not _valid_domain(domain):
                continue
            uri = f"https://{uri}"
        start, end = match.span(2)
        if _ENDING_PUNCTUATION.search(uri):
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        found.append((start, end, uri))
    return found


def _byte_range(text: str, start: int, end: int) -> dict[str, int]:
    byte_start = len(text[:start].encode("utf-8"))
    return {"byteStart": byte_start, "byteEnd": byte_start + len(text[start:end].encode("utf-8"))}


def _link_facet(text: str, start: int, end: int, uri: str) -> tuple[int, dict[str, Any]]:
    feature = {"$type": "app.bsky.richtext.facet#link", "uri": uri}
    return start, {"index": _byte_range(text, start, end), "features": [feature]}


def facets(text: str, hashtags: Sequence[str], links: Sequence[str] = ()) -> list[dict[str, Any]]:
    """A link facet for each of our `links` (where the text shows it), one for each other link
    RichText would detect, and a tag facet for each of our hashtags, in text order."""
    found: list[tuple[int, dict[str, Any]]] = []
    taken: list[tuple[int, int]] = []
    position = 0
    for link in links:
        shown = short_url(link)
        start = text.find(shown, position)
        if start < 0:
            start = text.find(link, position)
            shown = link
        if start < 0:
            continue
        end = start + len(shown)
        found.append(_link_facet(text, start, end, link))
        taken.append((start, end))
        position = end
    for start, end, uri in detected_links(text):
        if not any(start < e and s < end for s, e in taken):
            found.append(_link_facet(text, start, end, uri))
    for tag in hashtags:
        if grapheme_count(tag) > MAX_TAG_GRAPHEMES:
            continue
        pattern = regex.compile(
            rf"(?<![\p{{L}}\p{{N}}_#/])#{regex.escape(tag)}(?![\p{{L}}\p{{N}}_])"
        )
        for match in pattern.finditer(text):
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": tag}
            found.append(
                (match.start(), {"index": _byte_range(text, *match.span()), "features": [feature]})
            )
    found.sort(key=lambda pair: pair[0])
    return [facet for _, facet in found]


def post_record(
    *,
    text: str,
    hashtags: Sequence[str],
    created_at: str,
    url: str | None = None,
    title: str = "",
    description: str = "",
    links: Sequence[str] = (),
    langs: Sequence[str] = ("en",),
    reply: Mapping[str, Mapping[str, str]] | None = None,
    thumb: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `app.bsky.feed.post` record createRecord is sent, facets and link card included;
    `thumb` is the blob `uploadBlob` answered for the card's picture."""
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": created_at,
        "langs": list(langs),
    }
    found = facets(text, hashtags, links)
    if found:
        record["facets"] = found
    if url and title:
        record["embed"] = {
            "$type": "app.bsky.embed.external",
            "external": {"uri": url, "title": title, "description": description},
        }
        if thumb is not None:
            record["embed"]["external"]["thumb"] = dict(thumb)
    if reply is not None:
        record["reply"] = {"root": dict(reply["root"]), "parent": dict(reply["parent"])}
    return record
