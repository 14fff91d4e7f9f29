"""Properties of the pure checks and of validation on arbitrary records (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timezone

import emoji
import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import Problem
from digest.ingest.checks import (
    country_codes,
    country_problem,
    flag,
    hashtag_problem,
    quoted,
    slug_problem,
    slugify,
    url_problem,
    when_problem,
)
from digest.ingest.documents import records_of_document
from digest.ingest.spool import Spool
from digest.ingest.validate import (
    COMPANY_FIELDS,
    ITEM_FIELDS,
    READ_FIELDS,
    Checker,
    RawRecord,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def test_country_codes_are_the_real_flags() -> None:
    codes = country_codes()
    assert len(codes) >= 249  # every ISO 3166-1 country, plus a few reserved codes with flags
    assert {"SE", "GB", "US", "FR", "CN", "XK"} <= codes
    assert not {"ZZ", "UK", "EU", "UN", "XX", "se"} & codes
    assert all(emoji.is_emoji(flag(code)) for code in codes)
    assert flag("SE") == "🇸🇪"


@pytest.mark.parametrize("code", ["SE", "GB", "JP"])
def test_valid_country(code: str) -> None:
    assert country_problem(code) is None


@given(st.text())
def test_slugify_makes_valid_slugs(text: str) -> None:
    slug = slugify(text)
    assert slug == "" or slug_problem(slug) is None


@given(st.text(min_size=1))
def test_hashtag_suggestions_are_valid(tag: str) -> None:
    problem = hashtag_problem(tag)
    if problem and ", e.g. " in problem:
        assert hashtag_problem(problem.rsplit(", e.g. ", 1)[1]) is None


IN_RANGE = {"min_value": datetime(1900, 1, 2), "max_value": datetime(2200, 12, 30)}


@given(st.datetimes(timezones=st.timezones(), **IN_RANGE))
def test_aware_datetimes_round_trip(moment: datetime) -> None:
    offset = moment.utcoffset()
    assert offset is not None
    # A fixed offset: PEP 495 makes a time in a DST gap unequal to every other zone's.
    fixed = moment.replace(tzinfo=timezone(offset))
    assert when_problem(moment.isoformat()) == (fixed, None)
    assert when_problem(moment) == (moment, None)


@given(st.datetimes(**IN_RANGE))
def test_naive_datetimes_are_refused(moment: datetime) -> None:
    for value in (moment, moment.isoformat()):
        parsed, problem = when_problem(value)
        assert parsed is None and problem and problem.startswith("no time zone offset")


@given(st.text())
def test_quoted_text_stays_on_one_line(text: str) -> None:
    assert len(quoted(text).splitlines()) == 1


@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.from_regex(r"(/[A-Za-z0-9._~%-]{0,10}){0,3}", fullmatch=True),
)
def test_http_urls_pass(scheme: str, host: str, path: str) -> None:
    assert url_problem(f"{scheme}://{host}{path}") is None


UNSAFE_IN_URLS = [
    chr(code) for code in range(0x110000) if chr(code).isspace() or code < 32 or code == 127
]


@pytest.mark.parametrize("char", UNSAFE_IN_URLS)
def test_a_url_with_a_space_or_control_character_fails(char: str) -> None:
    assert url_problem(f"https://example.com/a{char}b") == (
        f"{quoted(f'https://example.com/a{char}b')} contains spaces or control characters;"
        " encode them (%20)"
    )


@given(st.sampled_from(["javascript", "ftp", "data", "file", "mailto"]), st.text(max_size=20))
def test_other_schemes_fail(scheme: str, rest: str) -> None:
    assert url_problem(f"{scheme}:{rest}") is not None


@given(
    st.sampled_from(["companies", "items", "reads"]),
    st.lists(
        st.dictionaries(
            st.sampled_from(COMPANY_FIELDS + ITEM_FIELDS + READ_FIELDS) | st.text(max_size=4),
            json_values,
        ),
        max_size=3,
    ),
)
def test_validation_never_crashes(list_name: str, records: list[dict[str, object]]) -> None:
    spool = Spool()
    checker = Checker(spool)
    checker.source("in.yaml", "lists")
    for found in records_of_document({list_name: records}, "in.yaml"):
        assert isinstance(found, RawRecord | Problem)
        if isinstance(found, Problem):
            checker.problem(found)
        else:
            checker.record(found)
    problems, _ = checker.finish()
    spool.close()
    # Every record is either a model or the subject of at least one problem.
    valid = sum(spool.counts.values())
    named = {problem.record for problem in problems}
    assert valid + len(named) >= len(records)
    assert all("\n" not in str(problem) for problem in problems)
