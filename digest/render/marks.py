"""Flags and hashtags: the marks every rendering of an item carries.

A country flag is the pair of regional-indicator symbols for its ISO 3166-1 code; the `emoji`
package says whether the pair is a real flag, so "ZZ" yields nothing, not two boxed letters.
"""

from __future__ import annotations

from collections.abc import Iterable

import emoji
import regex

from digest.models import NewsItem

_REGIONAL_INDICATOR_A = 0x1F1E6
_REGION_MARKS = {"global": "\N{EARTH GLOBE EUROPE-AFRICA}", "EU": "\U0001f1ea\U0001f1fa"}
# A word of a tag: letters and digits with their combining marks (Devanagari's vowel signs and
# virama, Thai's tone marks), which are part of the letter they follow and never a break.
_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]*")
_LEADING_NON_LETTERS = regex.compile(r"^[^\p{L}]+")


def country_flag(code: str) -> str | None:
    """The flag emoji of an ISO 3166-1 alpha-2 code, or None when no such flag exists."""
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    flag = "".join(chr(_REGIONAL_INDICATOR_A + ord(letter) - ord("A")) for letter in code.upper())
    return flag if emoji.is_emoji(flag) else None


def region_mark(region: str | None) -> str | None:
    return _REGION_MARKS.get(region) if region else None


def item_flags(item: NewsItem) -> str:
    """The region mark, then one flag per country, as the news site shows them ("🌍🇸🇪")."""
    marks = [region_mark(item.region), *(country_flag(code) for code in item.countries)]
    return "".join(mark for mark in marks if mark)


def camel_hashtag(text: str) -> str | None:
    """A CamelCase tag of letters, marks and digits ("AI infrastructure" → "AIInfrastructure").

    A word that has a capital keeps its casing as written ("xAI", "DeepSeek", "OpenAI"): brands
    are spelled their way; an all-lower-case word gets a capital so that screen readers say the
    words. Combining marks stay ("हिन्दी भाषा" → "हिन्दीभाषा"). A tag must start with a letter,
    so leading digits are dropped, and text with no letter gives None.
    """
    words = _WORD.findall(text)
    tag = "".join(word if word != word.lower() else word[:1].upper() + word[1:] for word in words)
    tag = _LEADING_NON_LETTERS.sub("", tag)
    return tag or None


def unique_hashtags(candidates: Iterable[str]) -> tuple[str, ...]:
    """CamelCase tags in order of first appearance, deduplicated case-insensitively."""
    seen: set[str] = set()
    tags: list[str] = []
    for candidate in candidates:
        tag = camel_hashtag(candidate)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags)
