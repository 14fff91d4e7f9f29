"""X: 280 *weighted* characters, as twitter-text (config v3) counts them.

The text is NFC-normalised; every URL counts 23, with or without its scheme (`x.ai` in a title is
a URL to X); every emoji, flags and ZWJ sequences included, counts 2; code points in the Latin
and general-punctuation ranges count 1, all others (CJK, …) count 2.
"""

from __future__ import annotations

import unicodedata
from typing import ClassVar

import emoji

from digest.render.social.counting import Platform, graphemes, url_spans

# The ranges twitter-text v3 weighs 1 (everything else weighs 2).
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_EMOJI_WEIGHT = 2


def _code_point_weight(char: str) -> int:
    code = ord(char)
    for low, high in _LIGHT_RANGES:
        if low <= code <= high:
            return 1
    return 2


class XPlatform(Platform):
    name = "x"
    max_length = 280
    max_hashtags: ClassVar[int | None] = 3  # more reads as spam
    url_length = 23
    threads: ClassVar[bool] = True

    def measure(self, text: str) -> int:
        text = unicodedata.normalize("NFC", text)
        total = 0
        position = 0
        for start, end in url_spans(text, without_scheme=True):
            total += self._weigh(text[position:start]) + (self.url_length or 23)
            position = end
        return total + self._weigh(text[position:])

    @staticmethod
    def _weigh(text: str) -> int:
        if text.isascii():
            return len(text)
        total = 0
        for cluster in graphemes(text):
            if len(cluster) == 1 and ord(cluster) < 0xA9:  # below ©, the first emoji-like sign
                total += 1
            elif cluster in emoji.EMOJI_DATA:
                total += _EMOJI_WEIGHT
            else:
                total += sum(_code_point_weight(char) for char in cluster)
        return total
