"""People's names: the name as written, and its given and family parts when they are known.

A list file or a form may give the parts (`first_name`, `last_name`) or only a whole `name`. A
whole name is split only where there is no doubt which part is which:

- "Kowalski, Anna" (one comma): the family name, then the given name, as lists sorted by family
  name write it;
- two words in a script whose names put the given name first ("Claire Dubois").

Anything else (one word, three words as in "Siobhán Ó Briain", a name in Chinese, Japanese or
Korean script, whose family name comes first and is often not separated) keeps its parts
unknown, and greetings fall back to a neutral one: a wrong first name is worse than none.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Scripts in which the family name is written first (and words are often not separated).
_FAMILY_FIRST_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "YI ")
# Inside a name: "Al-Sayed", "O'Neill". A full stop is not: "Dr." and "J." are no given names.
_WORD_PUNCTUATION = frozenset("-'’")


@dataclass(frozen=True, slots=True)
class PersonName:
    name: str  # as addressed in a To: header: "Anna Kowalski", "李娜"
    given: str = ""  # what a greeting uses; empty when not known
    family: str = ""


def one_line(text: str) -> str:
    """Line breaks and runs of spaces out: a name ends up in a To: header."""
    return " ".join(text.split())


def person_name(name: str = "", given: str = "", family: str = "") -> PersonName:
    """The name of a person from what a list or a form gave: parts win over a whole name; a
    whole name alone is split when that is unambiguous."""
    name, given, family = one_line(name), one_line(given), one_line(family)
    if given or family:
        return PersonName(name or " ".join(part for part in (given, family) if part), given, family)
    return split_name(name)


def split_name(name: str) -> PersonName:
    """A whole name, split into its parts only where there is no doubt (see the module)."""
    name = one_line(name)
    family, comma, given = (part.strip() for part in name.partition(","))
    if comma and family and given and "," not in given:
        if _is_word_run(family) and _is_word_run(given):
            return PersonName(f"{given} {family}", given, family)
        return PersonName(name)
    words = name.split(" ")
    if len(words) == 2 and all(_is_word_run(word) and _given_first(word) for word in words):
        return PersonName(name, words[0], words[1])
    return PersonName(name)


def _is_word_run(text: str) -> bool:
    """Letters (and the hyphens, apostrophes and spaces inside names): no digits, no "@"."""
    return bool(text) and all(
        char.isalpha() or char in _WORD_PUNCTUATION or char == " " or _is_mark(char)
        for char in text
    )


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")  # a combining accent


def _given_first(word: str) -> bool:
    return not any(
        unicodedata.name(char, "").startswith(_FAMILY_FIRST_SCRIPTS)
        for char in word
        if char.isalpha()
    )
