"""A composed post: what the outbox stores for one (post, channel) and what an adapter sends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class SocialPost:
    digest_key: str
    key: str  # unique within the digest: "item:<id>", "top", "top:2", "company:<slug>"
    platform: str
    text: str
    url: str  # the link the post is about; it is always in `text`
    hashtags: tuple[str, ...]  # in `text`, without "#", most specific first
    length: int  # by the platform's own counting
    limit: int
    title: str = ""  # the link card's title (Bluesky's external embed, LinkedIn's article)
    description: str = ""  # the link card's description
    reply_to: str | None = None  # key of the post this one answers: a thread's previous part
    thread_root: str | None = None  # key of a thread's first part
    # The post's picture: its share card, a path on the site ("cards/<digest key>/<n>-WxH.png",
    # render/cards.py), and the item's own picture when the input gave one (`image_url`).
    image: str | None = None
    image_url: str | None = None
    # Every link of the text in full, in text order (Bluesky shows them shortened, its app's way).
    links: tuple[str, ...] = ()
    language: str | None = None  # what the text is written in (ISO 639-1), when known

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hashtags"] = list(self.hashtags)
        data["links"] = list(self.links)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SocialPost:
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["hashtags"] = tuple(values.get("hashtags") or ())
        values["links"] = tuple(values.get("links") or ())
        return cls(**values)
