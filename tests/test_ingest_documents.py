"""read_sources on YAML, JSON and JSON Lines: models out, or one exact line per problem."""

# Tables of exact problem lines read best one case to a line.
# ruff: noqa: E501

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from digest.errors import InputError
from digest.ingest import Batch, read_sources
from digest.models import AmwRead, Company, NewsItem, ReadRef

COMPANY: dict[str, Any] = {
    "slug": "mistral-ai",
    "name": "Mistral AI",
    "sector": "Foundation Models / LLMs",
    "country": "FR",
    "hashtag": "MistralAI",
    "profile_url": "https://example.com/companies/mistral-ai",
}
ITEM: dict[str, Any] = {
    "id": "mistral-sweden-datacentres",
    "title": "Mistral AI is investing 1.2 billion euros in Swedish data centers",
    "summary": "Partnering with EcoDataCenter, the 2027 facility will provide sovereign compute.",
    "url": "https://example.com/news/mistral-sweden",
    "published_at": "2026-11-27T09:30:00+01:00",
    "companies": ["mistral-ai"],
    "category": "Expansion",
    "topics": ["Foundation Models · Case Studies", "Compute Economics", "Geopolitics"],
    "countries": ["SE"],
    "region": "global",
    "hashtags": ["AIInfrastructure", "DigitalSovereignty"],
    "image_url": "https://example.com/img/mistral.jpg",
    "read_minutes": 1,
    "source": "Reuters",
}
READ: dict[str, Any] = {
    "item": "mistral-sweden-datacentres",
    "text": "Mistral (a segment 01 case study) is executing a vertical integration move.",
    "novelty": 4,
    "significance": 5,
    "refs": [
        {"ref": "segment 01 case study"},
        {"ref": "cross.§A", "label": "vertical integration into infrastructure"},
    ],
}
DOCUMENT: dict[str, list[dict[str, Any]]] = {
    "companies": [COMPANY],
    "items": [ITEM],
    "reads": [READ],
}
DELETE = object()
CET = timezone(timedelta(hours=1))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative names keep the printed lines short and exact: "in.yaml:items[0]: …".
    monkeypatch.chdir(tmp_path)


def write(name: str, content: object) -> str:
    """Write a document (a dict is dumped as YAML or JSON by the name's extension)."""
    if isinstance(content, bytes):
        Path(name).write_bytes(content)
    elif isinstance(content, str):
        Path(name).write_text(content, encoding="utf-8")
    elif name.endswith(".json"):
        Path(name).write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    else:
        Path(name).write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return name


def problems(*names: str, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_sources(list(names), **kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(problem) for problem in caught.value.problems]


def changed(list_name: str, field: str, value: object) -> dict[str, list[dict[str, Any]]]:
    document = copy.deepcopy(DOCUMENT)
    record = document[list_name][0]
    if value is DELETE:
        del record[field]
    else:
        record[field] = value
    return document


# --- the happy path -----------------------------------------------------------------------------

EXPECTED = Batch(
    companies=(
        Company(
            "mistral-ai",
            "Mistral AI",
            "Foundation Models / LLMs",
            "FR",
            "MistralAI",
            "https://example.com/companies/mistral-ai",
        ),
    ),
    items=(
        NewsItem(
            id="mistral-sweden-datacentres",
            title="Mistral AI is investing 1.2 billion euros in Swedish data centers",
            summary=ITEM["summary"],
            url="https://example.com/news/mistral-sweden",
            published_at=datetime(2026, 11, 27, 9, 30, tzinfo=CET),
            companies=("mistral-ai",),
            category="Expansion",
            topics=("Foundation Models · Case Studies", "Compute Economics", "Geopolitics"),
            countries=("SE",),
            region="global",
            hashtags=("AIInfrastructure", "DigitalSovereignty"),
            image_url="https://example.com/img/mistral.jpg",
            read_minutes=1,
            source="Reuters",
        ),
    ),
    reads=(
        AmwRead(
            "mistral-sweden-datacentres",
            READ["text"],
            4,
            5,
            (
                ReadRef("segment 01 case study"),
                ReadRef("cross.§A", "vertical integration into infrastructure"),
            ),
        ),
    ),
)


@pytest.mark.parametrize("name", ["in.yaml", "in.yml", "in.json"])
def test_reads_a_valid_document(name: str) -> None:
    assert read_sources([write(name, DOCUMENT)]) == EXPECTED


def test_reads_json_lines() -> None:
    lines = [
        {"kind": "company", **COMPANY},
        {"kind": "item", **ITEM},
        {"kind": "read", **READ},
    ]
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert read_sources([write("in.jsonl", text + "\n\n")]) == EXPECTED


def test_unquoted_yaml_timestamp_with_offset_is_accepted() -> None:
    text = yaml.safe_dump(DOCUMENT, allow_unicode=True).replace(
        "'2026-11-27T09:30:00+01:00'", "2026-11-27T09:30:00+01:00"
    )
    assert "published_at: 2026-11-27T09:30:00+01:00" in text
    assert read_sources([write("in.yaml", text)]) == EXPECTED


def test_z_means_utc() -> None:
    batch = read_sources([write("in.yaml", changed("items", "published_at", "2026-11-27T08:30Z"))])
    assert batch.items[0].published_at == datetime(2026, 11, 27, 8, 30, tzinfo=UTC)


def test_optional_fields_default() -> None:
    item = {k: v for k, v in ITEM.items() if k in ("id", "title", "summary", "url")}
    item |= {"published_at": ITEM["published_at"], "companies": ["m"], "category": "Funding"}
    read = {"item": ITEM["id"], "text": "t", "novelty": 1, "significance": 1}
    batch = read_sources(
        [write("in.yaml", {"items": [item], "reads": [read]})], known_companies={"m"}
    )
    assert batch.items[0].topics == batch.items[0].countries == batch.items[0].hashtags == ()
    assert (batch.items[0].region, batch.items[0].image_url, batch.items[0].source) == (None,) * 3
    assert batch.items[0].read_minutes == 1
    assert batch.reads[0].refs == ()


def test_page_url_and_social_line_are_read() -> None:
    document = changed("items", "page_url", "https://news.example.org/news/mistral")
    document["reads"][0]["social"] = "  Mistral builds its own compute.  "
    batch = read_sources([write("in.yaml", document)])
    assert batch.items[0].page_url == "https://news.example.org/news/mistral"
    assert batch.reads[0].social == "Mistral builds its own compute."
    assert EXPECTED.items[0].page_url is None and EXPECTED.reads[0].social is None


def test_text_is_stripped() -> None:
    batch = read_sources([write("in.yaml", changed("items", "title", "  A title \n"))])
    assert batch.items[0].title == "A title"


def test_keeps_input_order_across_sources() -> None:
    second = {**ITEM, "id": "second", "topics": ["b", "a"]}
    a = write("a.yaml", DOCUMENT)
    b = write("b.json", {"items": [second]})
    batch = read_sources([a, b])
    assert [item.id for item in batch.items] == ["mistral-sweden-datacentres", "second"]
    assert batch.items[1].topics == ("b", "a")


def test_references_may_point_forward_and_across_files() -> None:
    reads = write("1.yaml", {"reads": [READ]})
    items = write("2.json", {"items": [ITEM]})
    companies = write("3.yaml", {"companies": [COMPANY]})
    assert read_sources([reads, items, companies]) == EXPECTED


def test_known_companies_and_items_satisfy_references() -> None:
    name = write("in.yaml", {"items": [{**ITEM, "id": "new"}], "reads": [READ]})
    batch = read_sources([name], known_companies=["mistral-ai"], known_items={ITEM["id"]})
    assert [item.id for item in batch.items] == ["new"]
    assert batch.reads[0].item_id == ITEM["id"]


def test_no_sources_no_records() -> None:
    assert read_sources([]) == Batch()
    assert read_sources([write("in.yaml", {"items": None})]) == Batch()


# --- one problem per kind of fault ----------------------------------------------------------------

TZ_HINT = "write it as 2026-11-27T09:30:00+01:00"
QUOTES = "put it in quotes"
YAML_BOOL = "put it in quotes (YAML reads yes, no, on and off as true and false)"
SLUG = "use lower-case letters, digits and single hyphens"
HASHTAG = "use letters and digits, starting with a letter"

FIELD_CASES = [
    # required fields
    ("items", "title", DELETE, "title: missing; every item needs one"),
    ("companies", "country", DELETE, "country: missing; every company needs one"),
    ("reads", "novelty", DELETE, "novelty: missing; every read needs one"),
    ("items", "companies", DELETE, "companies: missing; every item needs one"),
    ("items", "title", "   ", "title: empty; every item needs one"),
    ("items", "title", None, "title: missing; every item needs one"),
    # wrong types
    ("items", "title", 42, f"title: must be text, got a number (42); {QUOTES}"),
    ("items", "title", ["a", "b"], "title: must be text, got a list"),
    ("items", "summary", {"a": 1}, "summary: must be text, got a mapping"),
    ("items", "category", True, f"category: must be text, got a boolean (true); {YAML_BOOL}"),
    ("items", "id", 1234, f"id: must be text, got a number (1234); {QUOTES}"),
    ("items", "topics", "Geopolitics", 'topics: must be a list, got text ("Geopolitics"); '
     'write it as ["Geopolitics"]'),
    ("items", "topics", ["ok", 3], f"topics[1]: must be text, got a number (3); {QUOTES}"),
    ("items", "topics", ["a", " "], "topics[1]: empty; every item needs one"),
    ("items", "topics", ["a", "b", "a"], 'topics[2]: "a" is listed twice (also topics[0]); drop one'),
    # dates
    ("items", "published_at", "2026-11-27T09:30:00",
     "published_at: no time zone offset; write it as 2026-11-27T09:30:00+01:00 "
     "(with its real offset) or 2026-11-27T09:30:00Z"),
    ("items", "published_at", datetime(2026, 11, 27, 9, 30),
     "published_at: no time zone offset; write it as 2026-11-27T09:30:00+01:00 "
     "(with its real offset) or 2026-11-27T09:30:00Z"),
    ("items", "published_at", "2026-11-27",
     'published_at: "2026-11-27" is a date without a time; write it as 2026-11-27T09:30:00+01:00 '
     "(with its real time and offset)"),
    ("items", "published_at", date(2026, 11, 27),
     "published_at: 2026-11-27 is a date without a time; write it as 2026-11-27T09:30:00+01:00 "
     "(with its real time and offset)"),
    ("items", "published_at", "27/11/2026 09:30",
     f'published_at: "27/11/2026 09:30" is not an ISO 8601 date and time; {TZ_HINT}'),
    ("items", "published_at", 1764232200,
     f"published_at: must be a date and time, got a number (1764232200); {TZ_HINT}"),
    # countries and regions
    ("companies", "country", "XX", 'country: "XX" is not an ISO 3166-1 alpha-2 code'),
    ("companies", "country", "ZZ", 'country: "ZZ" is not an ISO 3166-1 alpha-2 code'),
    ("companies", "country", "UK",
     'country: "UK" is not an ISO 3166-1 alpha-2 code; did you mean "GB"?'),
    ("companies", "country", "fr",
     'country: "fr" is not an ISO 3166-1 alpha-2 code; write it in capitals: "FR"'),
    ("companies", "country", "FRA", 'country: "FRA" is not an ISO 3166-1 alpha-2 code'),
    ("companies", "country", False, f"country: must be text, got a boolean (false); {YAML_BOOL}"),
    ("items", "countries", ["SE", "EU"],
     'countries[1]: "EU" is not a country; write region: EU instead'),
    ("items", "countries", ["se"],
     'countries[0]: "se" is not an ISO 3166-1 alpha-2 code; write it in capitals: "SE"'),
    ("items", "region", "Europe", 'region: must be "global" or "EU", got "Europe"'),
    ("items", "region", "eu", 'region: must be "global" or "EU", got "eu"'),
    # whole numbers
    ("reads", "novelty", 7, "novelty: must be a whole number from 1 to 5, got 7"),
    ("reads", "novelty", 0, "novelty: must be a whole number from 1 to 5, got 0"),
    ("reads", "significance", True, "significance: must be a whole number from 1 to 5, got true"),
    ("reads", "significance", "5", 'significance: must be a whole number from 1 to 5, got "5"'),
    ("reads", "novelty", 4.5, "novelty: must be a whole number from 1 to 5, got 4.5"),
    ("items", "read_minutes", 0, "read_minutes: must be a whole number from 1 to 600, got 0"),
    ("items", "read_minutes", False,
     "read_minutes: must be a whole number from 1 to 600, got false"),
    # references
    ("items", "companies", ["foo"],
     'companies: unknown company "foo"; add it under companies: or ingest it first'),
    ("items", "companies", [], "companies: empty; every item needs at least one"),
    ("items", "companies", ["mistral-ai", "mistral-ai"],
     'companies[1]: "mistral-ai" is listed twice (also companies[0]); drop one'),
    ("items", "companies", ["Mistral AI"],
     f'companies[0]: "Mistral AI" is not a valid slug; {SLUG}, e.g. "mistral-ai"'),
    ("reads", "item", "nope", 'item: unknown item "nope"; add it under items: or ingest it first'),
    # URLs
    ("items", "url", "javascript:alert(1)",
     'url: must be an http(s) URL, got "javascript:alert(1)"'),
    ("items", "url", "ftp://example.com/a", 'url: must be an http(s) URL, got "ftp://example.com/a"'),
    ("items", "url", "example.com/a", 'url: must be an http(s) URL, got "example.com/a"'),
    ("items", "url", "https:///a", 'url: "https:///a" has no host; write it as https://example.com/…'),
    ("items", "url", "https://exa mple.com",
     'url: "https://exa mple.com" contains spaces or control characters; encode them (%20)'),
    ("items", "image_url", "data:image/png;base64,AAAA",
     'image_url: must be an http(s) URL, got "data:image/png;base64,AAAA"'),
    ("companies", "profile_url", "javascript:x",
     'profile_url: must be an http(s) URL, got "javascript:x"'),
    ("items", "page_url", "news/x", 'page_url: must be an http(s) URL, got "news/x"'),
    ("reads", "social", 5, f"social: must be text, got a number (5); {QUOTES}"),
    ("reads", "social", "x" * 501, "social: too long: 501 characters, at most 500"),
    # formats of slugs and hashtags
    ("companies", "slug", "Mistral_AI", f'slug: "Mistral_AI" is not a valid slug; {SLUG}, e.g. "mistral-ai"'),
    ("companies", "slug", "mistral--ai", f'slug: "mistral--ai" is not a valid slug; {SLUG}, e.g. "mistral-ai"'),
    ("companies", "hashtag", "#MistralAI", 'hashtag: "#MistralAI" starts with "#"; write it without: MistralAI'),
    ("companies", "hashtag", "Mistral-AI", f'hashtag: "Mistral-AI" is not a valid hashtag; {HASHTAG}, e.g. MistralAI'),
    ("companies", "hashtag", "1AI", f'hashtag: "1AI" is not a valid hashtag; {HASHTAG}, e.g. AI'),
    ("items", "hashtags", ["AI", "#Chips"], 'hashtags[1]: "#Chips" starts with "#"; write it without: Chips'),
    # refs
    ("reads", "refs", "cross.§A", "refs: must be a list, got text (\"cross.§A\")"),
    ("reads", "refs", ["cross.§A"], 'refs[0]: must be a mapping, got text ("cross.§A"); '
     'write it as {ref: "cross.§A", label: "…"} (label optional)'),
    ("reads", "refs", [{"label": "x"}], "refs[0].ref: missing; every ref needs one"),
    ("reads", "refs", [{"ref": "a", "lable": "x"}], "refs[0].lable: unknown field; did you mean label?"),
]  # fmt: skip


@pytest.mark.parametrize(("list_name", "field", "value", "expected"), FIELD_CASES)
def test_field_problem(list_name: str, field: str, value: object, expected: str) -> None:
    # The store "knows" the records too, so a bad slug or id does not also orphan its references.
    known = {"known_companies": {"mistral-ai"}, "known_items": {ITEM["id"]}}
    assert problems(write("in.yaml", changed(list_name, field, value)), **known) == [
        f"in.yaml:{list_name}[0]: {expected}"
    ]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("novelty", True, "novelty: must be a whole number from 1 to 5, got true"),
        ("text", 5, "text: must be text, got a number (5); put it in quotes"),
        ("refs", {"ref": "a"}, "refs: must be a list, got a mapping"),
    ],
)
def test_field_problem_in_json(field: str, value: object, expected: str) -> None:
    assert problems(write("in.json", changed("reads", field, value))) == [
        f"in.json:reads[0]: {expected}"
    ]


def test_unquoted_naive_yaml_timestamp() -> None:
    text = yaml.safe_dump(DOCUMENT, allow_unicode=True).replace(
        "'2026-11-27T09:30:00+01:00'", "2026-11-27 09:30:00"
    )
    assert problems(write("in.yaml", text)) == [
        "in.yaml:items[0]: published_at: no time zone offset; write it as "
        "2026-11-27T09:30:00+01:00 (with its real offset) or 2026-11-27T09:30:00Z"
    ]


def test_unquoted_no_is_norway_in_quotes() -> None:
    text = yaml.safe_dump(DOCUMENT, allow_unicode=True).replace("country: FR", "country: NO")
    assert problems(write("in.yaml", text)) == [
        f"in.yaml:companies[0]: country: must be text, got a boolean (false); {YAML_BOOL}"
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("titel", "titel: unknown field; did you mean title?"),
        ("publishedAt", "publishedAt: unknown field; did you mean published_at?"),
        (
            "zzz",
            "zzz: unknown field; an item has id, title, summary, url, page_url, published_at, "
            "companies, category, topics, countries, region, hashtags, image_url, read_minutes, "
            "source",
        ),
    ],
)
def test_unknown_field(key: str, expected: str) -> None:
    assert problems(write("in.yaml", changed("items", key, "x"))) == [
        f"in.yaml:items[0]: {expected}"
    ]


def test_misspelt_required_field_reports_both() -> None:
    document = changed("items", "title", DELETE)
    document["items"][0]["titel"] = "x"
    assert problems(write("in.yaml", document)) == [
        "in.yaml:items[0]: titel: unknown field; did you mean title?",
        "in.yaml:items[0]: title: missing; every item needs one",
    ]


# --- problems across records and sources ---------------------------------------------------------


def test_duplicate_id_names_the_first() -> None:
    a = write("a.yaml", DOCUMENT)
    b = write("b.json", {"items": [ITEM]})
    assert problems(a, b) == [
        f'b.json:items[0]: id: duplicate id "{ITEM["id"]}"; the first is at a.yaml:items[0]'
    ]


def test_duplicate_company_slug_within_one_file() -> None:
    document = {"companies": [COMPANY, {**COMPANY, "name": "Other"}]}
    assert problems(write("in.yaml", document)) == [
        'in.yaml:companies[1]: slug: duplicate company "mistral-ai"; '
        "the first is at in.yaml:companies[0]"
    ]


def test_two_reads_for_one_item() -> None:
    document = {**DOCUMENT, "reads": [READ, {**READ, "novelty": 1}]}
    assert problems(write("in.yaml", document)) == [
        f'in.yaml:reads[1]: item: a second read for item "{ITEM["id"]}"; '
        "the first is at in.yaml:reads[0] (an item has one AMW Read)"
    ]


def test_every_problem_of_every_source_in_source_order() -> None:
    bad_item = write("b.yaml", changed("items", "url", "ftp://x"))
    missing = "missing.yaml"
    bad_read = write("a.json", {"reads": [{**READ, "novelty": 9, "item": "zz"}]})
    lines = problems(bad_read, missing, bad_item)
    assert lines == [
        'a.json:reads[0]: item: unknown item "zz"; add it under items: or ingest it first',
        "a.json:reads[0]: novelty: must be a whole number from 1 to 5, got 9",
        "missing.yaml: cannot read: No such file or directory",
        'b.yaml:items[0]: url: must be an http(s) URL, got "ftp://x"',
    ]


def test_a_company_with_problems_still_counts_as_defined() -> None:
    # One mistake in a company must not cascade into "unknown company" on all its items.
    lines = problems(write("in.yaml", changed("companies", "country", "XX")))
    assert lines == ['in.yaml:companies[0]: country: "XX" is not an ISO 3166-1 alpha-2 code']


# --- problems of whole documents -----------------------------------------------------------------

DOCUMENT_CASES = [
    ("in.yaml", "items: [1\nreads: 2\n",
     "in.yaml:line 2: not valid YAML: did not find expected ',' or ']' "
     "(while parsing a flow sequence)"),
    ("in.json", '{"items": [\n  {"id": "x",}\n]}',
     "in.json:line 2: not valid JSON: Expecting property name enclosed in double quotes "
     "(column 14)"),
    ("in.yaml", "items:\n  - id: a\n    id: b\n",
     'in.yaml:line 3: not valid YAML: duplicate key "id" (first on line 2); keep one'),
    ("in.json", '{"items": [], "items": []}',
     'in.json: not valid JSON: duplicate key "items"; keep one'),
    ("in.yaml", "", "in.yaml: empty; expected a document with companies:, items: and/or reads:"),
    ("in.yaml", "- a\n- b\n",
     "in.yaml: must be a document with companies:, items: and/or reads:, got a list"),
    ("in.yaml", "item: []\n", "in.yaml: item: unknown list; did you mean items?"),
    ("in.yaml", "stuff: []\n", "in.yaml: stuff: unknown list; expected companies, items or reads"),
    ("in.yaml", "items: {id: x}\n", "in.yaml: items: must be a list, got a mapping"),
    ("in.yaml", "items: [just text]\n",
     'in.yaml:items[0]: must be a mapping of fields, got text ("just text")'),
    ("in.yaml", b"items: []\n# caf\xe9\n", "in.yaml:line 2: not UTF-8 text; save the file as UTF-8"),
    ("in.csv", "id\n", "in.csv: unknown file type; name it with one of "
     ".yaml, .yml, .json, .jsonl, .xml, .rss, .atom"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "expected"), DOCUMENT_CASES)
def test_document_problem(name: str, content: str | bytes, expected: str) -> None:
    assert problems(write(name, content)) == [expected]


def test_yaml_merge_keys_are_not_duplicates() -> None:
    text = (
        "companies:\n"
        "  - &base {slug: a, name: A, sector: S, country: FR, hashtag: A}\n"
        "  - <<: *base\n"
        "    slug: b\n"
    )
    batch = read_sources([write("in.yaml", text)])
    assert [company.slug for company in batch.companies] == ["a", "b"]


def test_a_directory_is_not_readable() -> None:
    Path("dir.yaml").mkdir()
    assert problems("dir.yaml") == ["dir.yaml: cannot read: Is a directory"]


# --- JSON Lines ----------------------------------------------------------------------------------

JSONL_CASES = [
    ('{"slug": "a"}', 'in.jsonl:line 1: kind: missing; write "kind": "company", "item" or "read"'),
    ('{"kind": "itme", "id": "a"}', 'in.jsonl:line 1: kind: unknown kind "itme"; did you mean "item"?'),
    ('{"kind": "post"}', 'in.jsonl:line 1: kind: unknown kind "post"; use "company", "item" or "read"'),
    ('{"kind": "read", "item": "x"', "in.jsonl:line 1: not valid JSON: Expecting ',' delimiter (column 29)"),
    ("[1, 2]", "in.jsonl:line 1: must be a JSON object, got a list"),
    ('{"kind": "company", "slug": "a", "slug": "b"}', 'in.jsonl:line 1: not valid JSON: duplicate key "slug"; keep one'),
]  # fmt: skip


@pytest.mark.parametrize(("line", "expected"), JSONL_CASES)
def test_json_lines_problem(line: str, expected: str) -> None:
    assert problems(write("in.jsonl", line + "\n")) == [expected]


def test_json_lines_records_are_named_by_line() -> None:
    lines = [
        json.dumps({"kind": "company", **COMPANY}),
        "",
        json.dumps({"kind": "item", **ITEM, "region": "Mars"}),
        json.dumps({"kind": "read", **READ, "novelty": 6}),
    ]
    assert problems(write("in.jsonl", "\n".join(lines))) == [
        'in.jsonl:line 3: region: must be "global" or "EU", got "Mars"',
        "in.jsonl:line 4: novelty: must be a whole number from 1 to 5, got 6",
    ]


def test_json_lines_duplicate_names_the_line() -> None:
    line = json.dumps({"kind": "company", **COMPANY})
    assert problems(write("in.jsonl", f"{line}\n{line}\n")) == [
        'in.jsonl:line 2: slug: duplicate company "mistral-ai"; the first is at in.jsonl:line 1'
    ]


def test_json_lines_problems_come_in_line_order() -> None:
    lines = [json.dumps({"kind": "read", **READ, "novelty": 0}), "{oops", '{"kind": "x"}']
    assert problems(write("in.jsonl", "\n".join(lines)), known_items={ITEM["id"]}) == [
        "in.jsonl:line 1: novelty: must be a whole number from 1 to 5, got 0",
        "in.jsonl:line 2: not valid JSON: Expecting property name enclosed in double quotes "
        "(column 2)",
        'in.jsonl:line 3: kind: unknown kind "x"; use "company", "item" or "read"',
    ]
