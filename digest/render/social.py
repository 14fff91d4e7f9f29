"""Social posts: one composer, and each platform's limit and way of counting.

A platform declares its limit and how it counts as class attributes and one `length` method;
`compose_item_post` renders `templates/social/item.txt.j2` and fits the post to the limit: the
least specific hashtags go first, then the summary is shortened at a word boundary. The link,
the title and the flags always stay.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import emoji
import jinja2
import regex

from digest.models import Digest, Entry
from digest.render.marks import camel_hashtag, item_flags, unique_hashtags

_URL = regex.compile(r"https?://\S+")
_GRAPHEME = regex.compile(r"\X")
ELLIPSIS = "…"


def graphemes(text: str) -> list[str]:
    return _GRAPHEME.findall(text)


class Platform:
    """Counting by graphemes, each URL counted as `url_length` (its own length when None)."""

    name: ClassVar[str]
    max_length: ClassVar[int]
    url_length: ClassVar[int | None] = None

    def length(self, text: str) -> int:
        total = 0
        position = 0
        for match in _URL.finditer(text):
            total += len(graphemes(text[position : match.start()]))
            total += self.url_length if self.url_length is not None else len(match.group())
            position = match.end()
        return total + len(graphemes(text[position:]))

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.max_length


class XPlatform(Platform):
    """twitter-text v3 weighting: URLs 23, emoji 2, the Latin and punctuation ranges 1, else 2."""

    name = "x"
    max_length = 280
    url_length = 23
    _light_ranges: ClassVar[tuple[tuple[int, int], ...]] = (
        (0, 4351),
        (8192, 8205),
        (8208, 8223),
        (8242, 8247),
    )

    def length(self, text: str) -> int:
        text = unicodedata.normalize("NFC", text)
        total = 0
        position = 0
        for match in _URL.finditer(text):
            total += self._weigh(text[position : match.start()]) + self.url_length
            position = match.end()
        return total + self._weigh(text[position:])

    def _weigh(self, text: str) -> int:
        total = 0
        position = 0
        for found in emoji.emoji_list(text):
            total += self._weigh_plain(text[position : found["match_start"]]) + 2
            position = found["match_end"]
        return total + self._weigh_plain(text[position:])

    def _weigh_plain(self, text: str) -> int:
        return sum(
            1 if any(low <= ord(char) <= high for low, high in self._light_ranges) else 2
            for char in text
        )


class MastodonPlatform(Platform):
    name = "mastodon"
    max_length = 500
    url_length = 23


class BlueskyPlatform(Platform):
    """300 graphemes and 3,000 UTF-8 bytes; a URL counts in full."""

    name = "bluesky"
    max_length = 300
    max_bytes: ClassVar[int] = 3000

    def fits(self, text: str) -> bool:
        return super().fits(text) and len(text.encode("utf-8")) <= self.max_bytes


class LinkedInPlatform(Platform):
    name = "linkedin"
    max_length = 3000


class ThreadsPlatform(Platform):
    """500, counting an emoji as its UTF-8 bytes: the platform's own rule is not documented."""

    name = "threads"
    max_length = 500

    def length(self, text: str) -> int:
        return sum(
            len(cluster.encode("utf-8")) if emoji.is_emoji(cluster) else 1
            for cluster in graphemes(text)
        )


class SlackPlatform(Platform):
    name = "slack"
    max_length = 4000


class DiscordPlatform(Platform):
    name = "discord"
    max_length = 2000


PLATFORMS: dict[str, Platform] = {
    platform.name: platform
    for platform in (
        XPlatform(),
        MastodonPlatform(),
        BlueskyPlatform(),
        LinkedInPlatform(),
        ThreadsPlatform(),
        SlackPlatform(),
        DiscordPlatform(),
    )
}


@dataclass(frozen=True, slots=True)
class SocialPost:
    digest_key: str
    key: str  # unique within the digest: "item:<id>"
    platform: str
    text: str
    url: str
    hashtags: tuple[str, ...]
    length: int
    limit: int


def entry_hashtags(entry: Entry) -> tuple[str, ...]:
    """Most specific first: the companies', the item's own, then its topics'."""
    return unique_hashtags(
        [
            *(company.hashtag for company in entry.companies),
            *entry.item.hashtags,
            *(tag for tag in map(camel_hashtag, entry.item.topics) if tag),
        ]
    )


def compose_item_post(
    digest: Digest, entry: Entry, platform: Platform, env: jinja2.Environment
) -> SocialPost:
    template = env.get_template("social/item.txt.j2")
    item = entry.item
    hashtags = list(entry_hashtags(entry))
    summary_words = item.summary.split()

    def render(tags: Sequence[str], words: Sequence[str], cut: bool) -> str:
        summary = " ".join(words) + (ELLIPSIS if cut else "")
        return template.render(
            title=item.title,
            summary=summary,
            url=item.url,
            flags=item_flags(item),
            hashtags=tags,
        ).strip()

    text = render(hashtags, summary_words, False)
    while not platform.fits(text) and hashtags:
        hashtags.pop()
        text = render(hashtags, summary_words, False)
    if not platform.fits(text):
        text = _shorten_summary(
            platform, summary_words, lambda words: render((), words, bool(words))
        )
    return SocialPost(
        digest_key=digest.key,
        key=f"item:{item.id}",
        platform=platform.name,
        text=text,
        url=item.url,
        hashtags=tuple(hashtags),
        length=platform.length(text),
        limit=platform.max_length,
    )


def _shorten_summary(
    platform: Platform, words: Sequence[str], render: Callable[[Sequence[str]], str]
) -> str:
    """The longest word-prefix of the summary that fits; no summary if not one word does."""
    low, high = 0, len(words)
    while low < high:  # binary search for the most words that fit
        middle = (low + high + 1) // 2
        if platform.fits(render(words[:middle])):
            low = middle
        else:
            high = middle - 1
    return render(words[:low])


def compose_digest_posts(
    digest: Digest, platform: Platform, env: jinja2.Environment
) -> Iterator[SocialPost]:
    """One post per entry of the digest, in rank order."""
    for entry in digest.entries:
        yield compose_item_post(digest, entry, platform, env)
