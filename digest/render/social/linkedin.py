"""LinkedIn: 3,000 characters of `commentary` in the "little text" format.

In little text `\\ | { } @ [ ] ( ) < > # * _ ~` are markup; written plainly they make LinkedIn cut
the post at that character without an error. So every one of them is backslash-escaped, except
in our own `#Hashtag`s (a HashtagElement) and in URLs (escaping would break the link). The count
is taken on the escaped commentary in UTF-16 units: the most LinkedIn could count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import regex

from digest.render.social.counting import Platform, utf16_length

_RESERVED = regex.compile(r"([\\|{}@\[\]()<>#*_~])")
# A URL runs to the next space: escaping inside it (an "_" or a ")") would break the link.
_URL = regex.compile(r"https?://\S+")


def little_text(text: str, hashtags: Iterable[str] = ()) -> str:
    """`text` as LinkedIn commentary: reserved characters escaped outside URLs and our tags."""
    keep = [found.span() for found in _URL.finditer(text)]
    for tag in hashtags:
        pattern = regex.compile(rf"#{regex.escape(tag)}(?![\p{{L}}\p{{N}}_])")
        keep.extend((found.start(), found.end()) for found in pattern.finditer(text))
    keep.sort()
    parts: list[str] = []
    position = 0
    for start, end in keep:
        if start < position:
            continue
        parts.append(_RESERVED.sub(r"\\\1", text[position:start]))
        parts.append(text[start:end])
        position = end
    parts.append(_RESERVED.sub(r"\\\1", text[position:]))
    return "".join(parts)


class LinkedInPlatform(Platform):
    name = "linkedin"
    max_length = 3000
    max_hashtags: ClassVar[int | None] = 5  # more reads as spam
    counts_ascii_as_written: ClassVar[bool] = False  # markup characters are escaped

    def measure(self, text: str) -> int:
        # Escaping every reserved character (tags included) can only count more than is sent.
        return utf16_length(_RESERVED.sub(r"\\\1", text))
