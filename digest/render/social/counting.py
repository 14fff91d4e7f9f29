"""What every platform's counting shares: graphemes, URL spans, and the `Platform` base class.

A platform is an object, not only a class: its limits are class attributes that an instance may
override at run time (a Mastodon server announces its own limit and URL reservation).
"""

from __future__ import annotations

import re
from typing import ClassVar

import regex

_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> list[str]:
    return _GRAPHEME.findall(text)


def grapheme_count(text: str) -> int:
    if text.isascii():
        return len(text) - text.count("\r\n")  # CR LF is one grapheme
    return len(_GRAPHEME.findall(text))


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, what a JavaScript or Java service calls a string's length."""
    return len(text.encode("utf-16-le")) // 2


def url_spans(text: str, *, without_scheme: bool) -> list[tuple[int, int]]:
    """(start, end) of each URL as twitter-text finds it (the reference Mastodon and X count by).

    twitter-text checks the top-level domain against its list, so `https://foo.zzzz` is no URL and
    counts in full, and with `without_scheme` a bare `x.ai` in a sentence is one.
    """
    if "." not in text:
        return []
    # Imported here: its tables cost 18 MB, which a worker that only sends email never needs.
    from twitter_text.extract_urls import extract_urls_with_indices

    found = extract_urls_with_indices(text, extract_urls_without_protocol=without_scheme)
    return [(url["indices"][0], url["indices"][1]) for url in found]


_SPACES = re.compile(r"\s+")  # what str.split() splits on
_CACHE_LIMIT = 200_000  # pieces remembered per platform before the memo starts afresh


class Platform:
    """Counting by graphemes; a URL (with its scheme) counts `url_length`, or in full when None.

    A text is counted word by word (and its runs of space), each word's count remembered:
    fitting a post counts the same words again and again. Every platform's count adds up over
    such pieces (no URL, emoji or tag crosses a space), except a combining mark right after a
    space, or CR LF, which are then counted once more than they might be: never less.
    """

    name: ClassVar[str]
    max_length: int = 500
    url_length: int | None = None
    # Most hashtags a post should carry (Threads: one topic tag), None for no limit.
    max_hashtags: ClassVar[int | None] = None
    # Whether a post says its language (Bluesky's langs, Mastodon's language): only then is it
    # detected, which costs more than composing the post.
    says_language: ClassVar[bool] = False
    # Whether the one tag a post carries is a topic's (Threads' "topic tag"), not the company's.
    topic_tag_only: ClassVar[bool] = False
    # Whether a long weekly digest may go out as a thread of numbered replies.
    threads: ClassVar[bool] = False
    # Whether ASCII text without a URL counts one per character (not so where it is escaped).
    counts_ascii_as_written: ClassVar[bool] = True

    def __init__(self, *, max_length: int | None = None, url_length: int | None = None) -> None:
        if max_length is not None:
            self.max_length = max_length
        if url_length is not None:
            self.url_length = url_length
        self._memo: dict[str, int] = {}
        self._last: tuple[str | None, int] = (None, 0)

    def with_limits(self, *, max_length: int | None, url_length: int | None) -> Platform:
        """The same rules with a limit read at run time (None keeps the default)."""
        return type(self)(max_length=max_length, url_length=url_length)

    def length(self, text: str) -> int:
        last = self._last  # read once: platforms are shared between threads
        if text is last[0]:
            return last[1]  # fits() then the post's own length: the same text twice
        memo = self._memo
        if len(memo) > _CACHE_LIMIT:
            memo.clear()
        words = text.split()
        counts = list(map(memo.get, words))
        if None in counts:
            for index, word in enumerate(words):
                if counts[index] is None:
                    counts[index] = memo[word] = self.measure(word)
        total: int = sum(counts)  # type: ignore[arg-type]
        spaces = len(text) - sum(map(len, words))
        plain = text.count(" ") + text.count("\n") + text.count("\t") + text.count("\r")
        if spaces == plain:  # ASCII spaces count 1 on every platform ("\r\n" once more)
            total += spaces
        else:
            for run in _SPACES.findall(text):
                counted = memo.get(run)
                if counted is None:
                    counted = memo[run] = self.measure(run)
                total += counted
        self._last = (text, total)
        return total

    def measure(self, text: str) -> int:
        """The count of one piece of text (or of a whole text), by the platform's rule."""
        if self.url_length is None:
            return grapheme_count(text)
        total = 0
        position = 0
        for start, end in url_spans(text, without_scheme=False):
            total += grapheme_count(text[position:start]) + self.url_length
            position = end
        return total + grapheme_count(text[position:])

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.max_length

    def shown_link(self, url: str) -> str:
        """How the text shows a link: as it is, but where the platform links a shorter text."""
        return url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_length={self.max_length}, url_length={self.url_length})"
