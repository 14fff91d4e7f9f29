"""What an item post says before it is fitted: its hook, its line of the AMW Read, its ratings
and the summary sentences worth adding.

Pure text work, no counting: `compose` decides how much of each a platform has room for.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import regex

from digest.models import AmwRead

# A sentence ends at . ! ? (then a space and a capital, a digit or a quote) or at a CJK full stop.
_SENTENCE_END = regex.compile(r"(?<=[.!?…])\s+(?=[\p{Lu}\p{N}\"“‘(])|(?<=[。！？])")
_WORDS = regex.compile(r"[\p{L}\p{M}\p{N}]+")
# A sentence that says the headline again: most of its words are the headline's.
_REPEAT_SHARE = 0.8


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(" ".join(text.split())) if part.strip()]


def _words(text: str) -> list[str]:
    return [word.casefold() for word in _WORDS.findall(text)]


def repeats(sentence: str, headline: str) -> bool:
    """Whether `sentence` says little more than `headline`, or opens with it: the site's
    summaries often open with the headline itself, and a post that says it twice wastes its
    room."""
    words = _words(sentence)
    if not words:
        return True
    heading = _words(headline)
    if heading and words[: len(heading)] == heading:
        return True
    known = set(heading)
    shared = sum(1 for word in words if word in known)
    return shared / len(words) >= _REPEAT_SHARE


@functools.lru_cache(maxsize=4096)  # asked once per platform for the same item
def summary_sentences(summary: str, headline: str) -> tuple[str, ...]:
    """The summary's sentences, less those that repeat the headline."""
    return tuple(s for s in sentences(summary) if not repeats(s, headline))


def _without_refs(text: str, refs: Sequence[str]) -> str:
    """The read without its framework markers ("(cross.§A)", "(a segment 01 case study)"):
    the site's cross-references mean nothing in a post."""
    if refs:
        names = "|".join(regex.escape(ref) for ref in refs)
        text = regex.sub(rf"\s*\((?:(?:a|an|the)\s+)?(?:{names})\)", "", text, flags=regex.I)
    return " ".join(text.split())


@functools.lru_cache(maxsize=4096)  # asked once per platform for the same item
def read_line(read: AmwRead | None, headline: str) -> str:
    """One line of the AMW Read: the editor's `social` line, else its first sentence that does
    not repeat the headline, its framework markers left out; "" without a read."""
    if read is None:
        return ""
    if read.social and read.social.strip():
        return " ".join(read.social.split())
    text = _without_refs(read.text, [ref.ref for ref in read.refs])
    for sentence in sentences(text):
        if not repeats(sentence, headline):
            return sentence
    return ""


def ratings(read: AmwRead | None) -> str:
    """ "Novelty 4/5 · Significance 5/5", or "" without a read."""
    if read is None:
        return ""
    return f"Novelty {read.novelty}/5 \N{MIDDLE DOT} Significance {read.significance}/5"
