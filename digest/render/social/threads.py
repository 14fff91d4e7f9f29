"""Threads: 500 characters, an emoji counted as its UTF-8 bytes (Meta's documented rule), and
one topic tag per post.

Other characters are counted in UTF-16 units, the most a JavaScript or Java service could
count them as, so a post that fits here fits there.
"""

from __future__ import annotations

from typing import ClassVar

import regex

from digest.render.social.counting import Platform, graphemes, utf16_length

_LINK = regex.compile(r"https?://")


def links_in(text: str) -> int:
    """How many links a post carries: the composer always writes them with their scheme."""
    return len(_LINK.findall(text))


# A cluster with any of these is an emoji to Threads: pictographs, flags, keycaps, tag sequences.
_EMOJI_PART = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\uFE0F\u20E3\u200D]")


class ThreadsPlatform(Platform):
    name = "threads"
    max_length = 500
    max_hashtags: ClassVar[int | None] = 1
    topic_tag_only: ClassVar[bool] = True
    max_links: ClassVar[int] = 5

    def fits(self, text: str) -> bool:
        # Threads refuses a post with more links, whatever its length.
        return super().fits(text) and links_in(text) <= self.max_links

    def measure(self, text: str) -> int:
        if text.isascii():
            return len(text)
        total = 0
        for cluster in graphemes(text):
            if cluster.isascii():
                total += len(cluster)
            elif _EMOJI_PART.search(cluster):
                total += max(len(cluster.encode("utf-8")), utf16_length(cluster))
            else:
                total += utf16_length(cluster)
        return total
