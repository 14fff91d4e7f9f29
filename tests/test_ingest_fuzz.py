"""Any input at all: every reader answers with records or problems, never an exception.

Random bytes, random YAML-ish text, and random YAML/JSON/JSON Lines documents built from the
fields a record has (and others), fed to the readers through `check_loaded`. The hand-picked
hostile inputs are in test_ingest_hostile.py.
"""

from __future__ import annotations

import io
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import InputError
from digest.ingest import Batch, check_loaded
from digest.ingest.fetch import Format, Loaded
from digest.ingest.validate import COMPANY_FIELDS, ITEM_FIELDS, READ_FIELDS, TopicRules

FORMATS: list[Format] = ["yaml", "json", "jsonl", "feed"]
BOUNDED = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        ["2026-11-27T09:30:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31", "mistral-ai"]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(("name", "hashtag", "ref", "label")) | st.text(max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
records = st.dictionaries(
    st.sampled_from(COMPANY_FIELDS + ITEM_FIELDS + READ_FIELDS + ("kind",)) | st.text(max_size=5),
    values,
    max_size=8,
)
documents = st.dictionaries(
    st.sampled_from(("companies", "items", "reads", "topics")) | st.text(max_size=5),
    st.lists(records, max_size=3) | values,
    max_size=4,
)
yaml_ish = st.text(
    alphabet=st.sampled_from([*"[]{}:,-&*!|>'\"#%@?~ \n\tab01.<=\\", "\u2028", "é"]),
    max_size=200,
)


def check(body: bytes, fmt: Format) -> None:
    """Read `body` as `fmt`: a Batch, or an InputError whose problems are single lines."""
    try:
        with check_loaded(
            [Loaded("in", fmt, body=io.BytesIO(body))],
            known_companies={"mistral-ai"},
            topics=TopicRules(frozenset({"Geopolitics"})),
        ) as checked:
            assert isinstance(checked.batch(), Batch)
    except InputError as error:
        assert error.problems
        assert all(
            "\n" not in str(problem) and len(str(problem)) < 600 for problem in error.problems
        )


@BOUNDED
@given(st.binary(max_size=600), st.sampled_from(FORMATS))
def test_random_bytes_never_crash_a_reader(body: bytes, fmt: Format) -> None:
    check(body, fmt)


@BOUNDED
@given(yaml_ish)
def test_random_yaml_text_never_crashes(text: str) -> None:
    check(text.encode("utf-8"), "yaml")


@BOUNDED
@given(documents)
def test_random_documents_never_crash(document: dict[Any, Any]) -> None:
    check(json.dumps(document, ensure_ascii=False).encode("utf-8"), "json")
    check(yaml.safe_dump(document, allow_unicode=True).encode("utf-8"), "yaml")


@BOUNDED
@given(st.lists(records, max_size=4))
def test_random_json_lines_never_crash(lines: list[dict[str, Any]]) -> None:
    body = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    check(body.encode("utf-8", errors="surrogatepass"), "jsonl")
