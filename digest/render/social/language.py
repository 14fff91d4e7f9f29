"""Which language a post is written in: Bluesky's `langs` and Mastodon's `language`, so that
readers who filter by language see the post (a Chinese headline is not English).

Detected offline by lingua (its models ship inside the wheel, nothing is fetched). The detector
is built once per process, in its low-accuracy mode (trigram models only: a few milliseconds a
post at most, about 60 MB, against 300 MB and seconds to build for the high-accuracy one, with
the same answers on texts of a post's length), and chooses only among the languages the site's
news is written in: those of the countries its companies come from and of the AI press. Fewer
candidates also mean fewer wrong guesses on short texts full of names ("DeepSeek V4-Pro" is no
Dutch). A text it cannot tell gives None, and the channel's configured language is used.
"""

from __future__ import annotations

import functools

import regex
from lingua import Language, LanguageDetector, LanguageDetectorBuilder

CANDIDATES = (
    Language.ENGLISH,
    Language.FRENCH,
    Language.GERMAN,
    Language.SPANISH,
    Language.PORTUGUESE,
    Language.ITALIAN,
    Language.DUTCH,
    Language.SWEDISH,
    Language.FINNISH,
    Language.POLISH,
    Language.CHINESE,
    Language.JAPANESE,
    Language.KOREAN,
    Language.HINDI,
    Language.ARABIC,
    Language.HEBREW,
    Language.RUSSIAN,
    Language.TURKISH,
    Language.THAI,
    Language.VIETNAMESE,
    Language.INDONESIAN,
)
# What says nothing about the language: links, bare domains, tags, mentions.
_NOT_WORDS = regex.compile(r"https?://\S+|\S+\.\S+/\S*|[#@]\S+")
_LETTER = regex.compile(r"\p{L}")
# Enough to tell (a headline and a sentence or two); the time it takes grows with the length.
MAX_CHARS = 300


@functools.cache
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*CANDIDATES).with_low_accuracy_mode().build()


@functools.lru_cache(maxsize=4096)  # the same item is composed once per channel
def language_of(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in, or None when it cannot tell."""
    words = _NOT_WORDS.sub(" ", text)[:MAX_CHARS]
    if not _LETTER.search(words):
        return None
    found = _detector().detect_language_of(words)
    return found.iso_code_639_1.name.lower() if found is not None else None
