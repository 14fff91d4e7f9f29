"""Bluesky: at most 300 graphemes and 3,000 UTF-8 bytes; a URL counts in full.

Links and hashtags are plain text to Bluesky unless the record carries *facets* for them, which
index the text by UTF-8 byte offsets; link cards are not made by the server either, so the
record carries an `app.bsky.embed.external` for the post's link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import regex

from digest.render.social.counting import Platform, grapheme_count, url_spans

MAX_TAG_GRAPHEMES = 64


class BlueskyPlatform(Platform):
    name = "bluesky"
    max_length = 300
    max_hashtags: ClassVar[int | None] = 3  # more reads as spam
    max_bytes: ClassVar[int] = 3000
    threads: ClassVar[bool] = True

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.max_length and len(text.encode("utf-8")) <= self.max_bytes


def _byte_range(text: str, start: int, end: int) -> dict[str, int]:
    byte_start = len(text[:start].encode("utf-8"))
    return {"byteStart": byte_start, "byteEnd": byte_start + len(text[start:end].encode("utf-8"))}


def facets(text: str, hashtags: Sequence[str]) -> list[dict[str, Any]]:
    """A link facet for each URL and a tag facet for each of our hashtags, in text order."""
    found: list[tuple[int, dict[str, Any]]] = []
    for start, end in url_spans(text, without_scheme=False):
        feature = {"$type": "app.bsky.richtext.facet#link", "uri": text[start:end]}
        found.append((start, {"index": _byte_range(text, start, end), "features": [feature]}))
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
    found = facets(text, hashtags)
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
