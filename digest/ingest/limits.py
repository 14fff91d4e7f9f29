"""The limits every input is held to, in one place (docs/input-format.md lists them).

Each one is far above what a real record needs; each keeps a hostile or broken input from
exhausting memory, the stack or a database column. Crossing one is a problem of the record
(exit 2), never a crash.
"""

from __future__ import annotations

# Lists and mappings inside one another, counted from the document (or JSON Lines line) down;
# a real record needs five (document, list, item, refs, ref).
MAX_DEPTH = 32
# Values one record may hold once YAML aliases are expanded: a "billion laughs" stops here.
MAX_VALUES = 10_000
# Entries of one list field (companies, topics, countries, hashtags, refs).
MAX_LIST = 100
# Digits of a number literal; longer ones are not even converted (Python refuses 4,300).
MAX_DIGITS = 30

# Characters of a text field, by field; every other text field has TEXT.
TEXT = 500
LONG_TEXT = 20_000  # a summary, an AMW Read
TEXT_LIMITS = {
    "slug": 60,  # company:SLUG:2026-W48 keys must fit their columns
    "id": 120,
    "item": 120,
    "hashtag": 60,
    "summary": LONG_TEXT,
    "text": LONG_TEXT,
    "url": 2_000,
    "page_url": 2_000,
    "image_url": 2_000,
    "profile_url": 2_000,
}

# Whole numbers: AMW ratings, reading time in minutes.
RATING = (1, 5)
READ_MINUTES = (1, 600)

# Publication dates, in the years of the date as written.
FIRST_YEAR = 1900
LAST_YEAR = 2200

# Documents read whole (JSON documents, feeds); YAML and JSON Lines are streamed and have none.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# One line of JSON Lines.
MAX_LINE_BYTES = 4 * 1024 * 1024

# Problems printed for one run; the rest are counted.
MAX_PROBLEMS = 1_000


def text_limit(name: str) -> int:
    """The limit of a field by its name; list entries ("topics[2]") and sub-fields
    ("refs[0].label") are named by their last part."""
    base = name.rsplit(".", 1)[-1].split("[", 1)[0]
    return TEXT_LIMITS.get(base, TEXT)
