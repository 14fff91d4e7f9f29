"""Pure checks of single values: each returns what is wrong with a value (and what to do), or None.

No I/O here; the readers parse, these judge. A message reads well after `field: `.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from urllib.parse import urlsplit

import emoji

from digest.ingest.limits import FIRST_YEAR, LAST_YEAR, MAX_DIGITS

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
HASHTAG = re.compile(r"[A-Za-z][A-Za-z0-9]*")
REGIONS = ("global", "EU")
EXAMPLE_WHEN = "2026-11-27T09:30:00+01:00"
# The shape of an ISO 8601 date and time, to tell "not a real date" from "not a date at all".
_ISO_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"\s*([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters other than tab and line breaks: PostgreSQL refuses NUL, mail headers the rest.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What a URL cannot hold: \s is str.isspace's whitespace (one scan, not a test per character).
_URL_UNSAFE = re.compile("[\\s\x00-\x1f\x7f]")
# How long a value may be before a problem shows only its start: a problem stays one short line.
SHOWN = 60

# Codes people write for a country that ISO spells otherwise.
_COUNTRY_HINTS = {"UK": "GB", "EL": "GR"}
# Flags that exist as emoji but name no country: they belong elsewhere, or nowhere.
_NOT_COUNTRIES = {"EU": "is not a country; write region: EU instead", "UN": "is not a country"}


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, taken from the flags the emoji package knows.

    A code is valid when its two regional indicator symbols form a real flag, so every code we
    accept also renders as a flag downstream.
    """
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    codes = {a + b for a in letters for b in letters if emoji.is_emoji(flag(a + b))}
    return frozenset(codes - _NOT_COUNTRIES.keys())


def flag(code: str) -> str:
    """The two regional indicator symbols of a two-letter code ("SE" → 🇸🇪)."""
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in code)


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class LongNumber(str):
    """A number literal too long to convert (more than MAX_DIGITS digits), kept as its text."""

    __slots__ = ()


def number_literal(digits: str) -> int | LongNumber:
    """An integer literal as a number, or kept as text when it is too long to be one."""
    return int(digits) if len(digits.lstrip("+-")) <= MAX_DIGITS else LongNumber(digits)


def quoted(value: object) -> str:
    """A value as the user wrote it, in double quotes for text; lists and mappings by their kind.

    Line breaks and other control characters are escaped and long values cut: a problem must
    stay on one short line.
    """
    if isinstance(value, LongNumber):
        return f"a number of {len(value.lstrip('+-'))} digits"
    if isinstance(value, str):
        return f'"{escape(value)}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float | date):
        return str(value)
    return type_name(value)


def escape(text: str) -> str:
    """Text with backslashes, quotes, line breaks, control characters and lone surrogates
    escaped, cut after SHOWN characters."""
    shown = "".join(_escape(char) for char in text[:SHOWN])
    return shown if len(text) <= SHOWN else f"{shown}… ({len(text)} characters)"


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
        return f"\\u{ord(char):04x}"
    return char


def text_problem(text: str, limit: int) -> str | None:
    """Text that no database or mail header can carry, or that is longer than its limit."""
    if len(text) > limit:
        return f"too long: {len(text)} characters, at most {limit}"
    if _SURROGATE.search(text):
        return (
            "contains a lone surrogate (a broken \\uD800-\\uDFFF escape), which is not text; "
            "fix the escape or remove it"
        )
    if control := _CONTROL.search(text):
        return f"contains a control character ({escape(control.group())}); remove it"
    return None


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a misspelt `word`, if one is close enough."""
    if len(word) > SHOWN:
        return None  # nobody misspells a word that long, and comparing it would be slow
    options = list(choices)
    by_fold = {option.casefold(): option for option in options}
    if word.casefold() in by_fold:
        return by_fold[word.casefold()]
    close = difflib.get_close_matches(word.casefold(), list(by_fold), n=1, cutoff=0.6)
    return by_fold[close[0]] if close else None


def country_problem(code: str) -> str | None:
    if code in country_codes():
        return None
    if code in _NOT_COUNTRIES:
        return f"{quoted(code)} {_NOT_COUNTRIES[code]}"
    message = f"{quoted(code)} is not an ISO 3166-1 alpha-2 code"
    upper = code.upper()
    if upper in _COUNTRY_HINTS:
        return f"{message}; did you mean {quoted(_COUNTRY_HINTS[upper])}?"
    if upper != code and upper in country_codes():
        return f"{message}; write it in capitals: {quoted(upper)}"
    return message


def region_problem(region: str) -> str | None:
    if region in REGIONS:
        return None
    return f'must be "global" or "EU", got {quoted(region)}'


def slugify(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def slug_problem(slug: str) -> str | None:
    if SLUG.fullmatch(slug):
        return None
    message = (
        f"{quoted(slug)} is not a valid slug; use lower-case letters, digits and single hyphens"
    )
    example = slugify(slug)
    return f"{message}, e.g. {quoted(example)}" if example else message


def hashtag_problem(tag: str) -> str | None:
    if HASHTAG.fullmatch(tag):
        return None
    if tag.startswith("#") and HASHTAG.fullmatch(tag[1:]):
        return f'{quoted(tag)} starts with "#"; write it without: {tag[1:]}'
    message = (
        f"{quoted(tag)} is not a valid hashtag; use letters and digits, starting with a letter"
    )
    words = re.findall(r"[A-Za-z0-9]+", tag)
    example = "".join(word[:1].upper() + word[1:] for word in words).lstrip("0123456789")
    return f"{message}, e.g. {example}" if example else message


def url_problem(url: str) -> str | None:
    """An http(s) URL with a host and no spaces; anything else can't be linked safely."""
    if _URL_UNSAFE.search(url):
        return f"{quoted(url)} contains spaces or control characters; encode them (%20)"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"{quoted(url)} is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"must be an http(s) URL, got {quoted(url)}"
    if not host:
        return f"{quoted(url)} has no host; write it as https://example.com/…"
    return None


def when_problem(value: object) -> tuple[datetime | None, str | None]:
    """A timezone-aware datetime from an ISO 8601 string or a (YAML-parsed) datetime, in the
    years FIRST_YEAR to LAST_YEAR.

    Returns (datetime, None) or (None, problem).
    """
    if isinstance(value, datetime):
        parsed = value
        text = value.isoformat()
    elif isinstance(value, date):
        return None, (
            f"{value.isoformat()} is a date without a time; "
            f"write it as {value.isoformat()}T09:30:00+01:00 (with its real time and offset)"
        )
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as error:
            return None, _not_a_date(value, text, error)
        # fromisoformat reads "2026-11-27" as midnight; a date alone names no moment.
        if "T" not in text.upper() and " " not in text:
            return None, (
                f"{quoted(value)} is a date without a time; "
                f"write it as {parsed.date().isoformat()}T09:30:00+01:00 "
                "(with its real time and offset)"
            )
    else:
        return None, f"must be a date and time, got {type_name(value)}; write it as {EXAMPLE_WHEN}"
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        # Checked before the offset is used: year 1 or 9999 would overflow in UTC.
        return None, (
            f"{quoted(value) if isinstance(value, str) else text} is outside the years "
            f"{FIRST_YEAR} to {LAST_YEAR}; check the year"
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None, (
            f"no time zone offset; write it as {text}+01:00 (with its real offset) or {text}Z"
        )
    return parsed, None


def _not_a_date(value: str, text: str, error: ValueError) -> str:
    if _ISO_SHAPE.fullmatch(text):
        # Python says what is out of range ("month must be in 1..12"), except for offsets.
        reason = str(error) if "offset" not in str(error) else "the offset is 24 hours or more"
        return f"{quoted(value)} is not a real date and time ({reason}); check it"
    return f"{quoted(value)} is not an ISO 8601 date and time; write it as {EXAMPLE_WHEN}"


def type_name(value: object) -> str:
    """How a value's type reads in a problem: "a number (7)", "a list", …"""
    if isinstance(value, bool):
        return f"a boolean ({quoted(value)})"
    if isinstance(value, LongNumber):
        return quoted(value)
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({quoted(value)})"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    if value is None:
        return "nothing"
    return type(value).__name__


_EMAIL_FORBIDDEN = set('()<>[]\\,;:"')


def email_problem(email: str) -> str | None:
    """A deliverable-looking address: one "@", a dotted domain, nothing that breaks a header."""
    example = "write it as name@example.com"
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in email):
        return f"{quoted(email)} contains spaces or line breaks; {example}"
    if email.count("@") != 1:
        return f'{quoted(email)} must have exactly one "@"; {example}'
    local, domain = email.split("@")
    labels = domain.split(".")
    if not local or len(labels) < 2 or not all(labels):
        return f"{quoted(email)} needs a name and a dotted domain; {example}"
    if _EMAIL_FORBIDDEN & set(email):
        return f'{quoted(email)} contains one of ( ) < > [ ] \\ , ; : "; {example}'
    if not local.isascii():
        # Such an address needs SMTPUTF8 end to end, which the messages we build do not use.
        return f"{quoted(email)} has non-ASCII letters before the @, which cannot be mailed yet"
    if _ascii_domain(domain) is None:
        return f"{quoted(email)} has a domain that is not a valid internationalised name"
    return None


def _ascii_domain(domain: str) -> str | None:
    """The domain as DNS and mail headers carry it ("bücher.de" → "xn--bcher-kva.de")."""
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def normal_email(email: str) -> str:
    """The domain is case-insensitive and written in its ASCII (IDNA) form; the local part is,
    strictly, case-sensitive: keep it as written."""
    local, _, domain = email.rpartition("@")
    return f"{local}@{_ascii_domain(domain) or domain.lower()}"


@cache
def timezones() -> frozenset[str]:
    from zoneinfo import available_timezones  # reads the tz database once, on first use

    return frozenset(available_timezones())


def timezone_problem(name: str) -> str | None:
    if name in timezones():
        return None
    message = f"{quoted(name)} is not an IANA time zone"
    guess = suggest(name, timezones())
    return f"{message}; did you mean {quoted(guess)}?" if guess else f"{message}, e.g. Europe/Paris"
