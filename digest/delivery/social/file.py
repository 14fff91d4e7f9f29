"""`file`: JSON Lines, one object per post, one file per channel: posts ready to publish.

Each line carries what a marketing person needs to post by hand or check a post: the channel,
platform, digest, when to publish it (`scheduled_for`, its slot, ISO 8601 with the offset of the
channel's time zone), text, url, hashtags, its length and the limit by that platform's counting,
and for Bluesky the exact record (facets and link card) an adapter would send. A post's share
card is written beside the file (`cards/…png`, shared by every channel in the directory) and
named by the line's `image`, a path relative to the JSONL file, with its `image_alt`; the item's
own picture, when the input gave one, is its `image_url`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.delivery.social.base import FIRST, Attempt, Picture, Reply, SocialAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.social import SocialPost, post_record
from digest.settings import Settings


@dataclass(frozen=True, slots=True)
class FileSocialOptions:
    directory: str = "outbox/social"


class FileSocialAdapter(SocialAdapter):
    type_name = "file"
    Options = FileSocialOptions
    idempotent = True  # a line is written once per key, whatever happens

    def __init__(self, options: Any, settings: Settings, *, channel: str, path: str, **kw: Any):
        super().__init__(options, settings, channel=channel, path=path, **kw)
        self.path = settings.resolve(options.directory) / f"{channel}.jsonl"
        self._written: set[str] | None = None
        configured = next((c for c in settings.social if c.name == channel), None)
        self.zone = configured.posting_zone(settings.site) if configured else settings.site.zone

    def _keys_written(self) -> set[str]:
        # Read once: a row redelivered after a crash finds its line and is not written twice.
        if self._written is None:
            self._written = set()
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        self._written.add(json.loads(line)["key"])
        return self._written

    def record(
        self, post: SocialPost, key: str, scheduled_for: datetime | None = None
    ) -> dict[str, Any]:
        at = scheduled_for or self.clock()
        record: dict[str, Any] = {
            "key": key,
            "channel": self.channel,
            "platform": post.platform,
            "digest": post.digest_key,
            "post": post.key,
            # When to publish it, in the channel's time zone: its slot.
            "scheduled_for": at.astimezone(self.zone).isoformat(timespec="seconds"),
            "text": post.text,
            "url": post.url,
            "hashtags": list(post.hashtags),
            "length": post.length,
            "limit": post.limit,
        }
        if post.reply_to:
            record["reply_to"] = post.reply_to
        picture = self.card(post)  # the card, always: the file is the PNG beside the JSONL
        if picture is not None:
            record["image"] = (
                self.write_card(post, picture).relative_to(self.path.parent).as_posix()
            )
            record["image_alt"] = picture.alt
        if post.image_url:
            record["image_url"] = post.image_url
        if post.platform == "bluesky":
            record["record"] = post_record(
                text=post.text,
                hashtags=post.hashtags,
                created_at=self.clock().isoformat().replace("+00:00", "Z"),
                url=post.url,
                title=post.title,
                description=post.description,
                links=post.links,
                langs=(post.language or "en",),
            )
        return record

    def write_card(self, post: SocialPost, picture: Picture) -> Path:
        """The card's file beside the JSONL (written once: its bytes never change)."""
        assert post.image is not None
        # A digest key's colons are no part of a file name on every system.
        path = self.path.parent / post.image.replace(":", "-")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(picture.data)
            partial.replace(path)  # never a half-written PNG, even if the worker dies
        return path

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        written = self._keys_written()
        if key not in written:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as file:
                line = self.record(post, key, attempt.scheduled_for)
                file.write(json.dumps(line, ensure_ascii=False) + "\n")
            written.add(key)
        return DeliveryResult(DeliveryStatus.SENT, provider_id=f"{Path(self.path).name}#{key}")
