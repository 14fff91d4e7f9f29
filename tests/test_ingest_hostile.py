"""Hostile and broken inputs: `digest ingest` ends with exit 0 or 2, one `PATH:RECORD: field:
problem` line per problem, never a traceback, and the store exactly as it was on exit 2.

The corpus starts from the inputs that crashed ingest in issue 10 (an alias bomb in an integer
field, a complex mapping key, YAML timestamps out of range, nesting 20k and 100k deep, integers of
5,000 digits and 10**30, a lone surrogate, dates at year 1 and 9999, JSON Lines with U+2028 and
U+0085 inside strings) and adds their neighbours. Random inputs: test_ingest_fuzz.py.
"""

# Tables of cases read best one case to a line.
# ruff: noqa: E501

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from digest.cli import main

REPO = Path(__file__).resolve().parent.parent
COMPANY = (
    "  - {slug: mistral-ai, name: Mistral AI, sector: LLMs, country: FR, hashtag: MistralAI}\n"
)
ITEM_JSON = {
    "id": "hostile",
    "title": "A title",
    "summary": "A summary.",
    "url": "https://example.com/a",
    "published_at": "2026-11-27T09:30:00+01:00",
    "companies": ["mistral-ai"],
    "category": "Expansion",
}


def item_yaml(**fields: str) -> str:
    """An item in YAML, each field given as the YAML text of its value."""
    values = {key: json.dumps(value) for key, value in ITEM_JSON.items()} | fields
    body = "".join(f"    {key}: {value}\n" for key, value in values.items())
    return "companies:\n" + COMPANY + "items:\n  - " + body[4:]


def item_json(**fields: object) -> str:
    return json.dumps({"items": [{**ITEM_JSON, **fields}]}, ensure_ascii=False)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def bomb() -> str:
    """A "billion laughs" as a flow mapping: nine aliases of nine aliases of … nine values."""
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    return "{" + ", ".join(levels) + "}"


BIG = "1" + "0" * 4999
# (name of the case, file name, its content, a piece of the one problem it must give) — or, for
# inputs that are fine, None.
CASES: list[tuple[str, str, str, str | None]] = [
    ("alias bomb in an integer field", "in.yaml",
     "anchors: " + bomb() + "\n" + item_yaml(read_minutes="*a8"),
     "more than 10000 values in one record once its aliases are expanded"),
    ("alias bomb inside the record", "in.yaml", item_yaml(source=bomb(), read_minutes="*a8"),
     "more than 10000 values in one record once its aliases are expanded"),
    ("complex mapping key", "in.yaml",
     item_yaml(summary="{? [a, b] : c}"), "a mapping key must be a plain value"),
    ("complex key of a record", "in.yaml",
     "items:\n  - ? {id: x}\n    : y\n", "a mapping key must be a plain value"),
    ("year 0 timestamp", "in.yaml", item_yaml(published_at="0000-01-01T00:00:00Z"),
     "published_at: \"0000-01-01T00:00:00Z\" is not a real date and time (year 0 is out of range)"),
    ("second 60", "in.yaml", item_yaml(published_at="2026-11-27T09:30:60Z"),
     "(second must be in 0..59)"),
    ("month 13", "in.yaml", item_yaml(published_at="2026-13-27T09:30:00+01:00"),
     "(month must be in 1..12)"),
    ("February 30", "in.yaml", item_yaml(published_at="2026-02-30 09:30:00 +01:00"),
     "(day is out of range for month)"),
    ("offset of a day", "in.yaml", item_yaml(published_at="2026-11-27T09:30:00+25:00"),
     "(the offset is 24 hours or more)"),
    ("nesting 20k deep in YAML", "in.yaml", item_yaml(title=deep(20_000)),
     "nest"),
    ("nesting 100k deep in YAML", "in.yaml", item_yaml(title=deep(100_000)),
     "nest"),
    ("nesting 20k deep in JSON", "in.json", f'{{"items": {deep(20_000)}}}',
     "nest"),
    ("nesting 100k deep in JSON Lines", "in.jsonl", '{"kind": "item", "id": ' + deep(100_000) + "}\n",
     "in.jsonl:line 1: nested deeper than 32 levels"),
    ("5,000 digits in YAML", "in.yaml", item_yaml(read_minutes=BIG),
     "read_minutes: must be a whole number from 1 to 600, got a number of 5000 digits"),
    ("5,000 digits in JSON", "in.json", item_json(read_minutes=0).replace('"read_minutes": 0', f'"read_minutes": {BIG}'),
     "read_minutes: must be a whole number from 1 to 600, got a number of 5000 digits"),
    ("10**30 in YAML", "in.yaml", item_yaml(read_minutes=str(10**30)),
     "got a number of 31 digits"),
    ("10**30 in JSON", "in.json", item_json(read_minutes=10**30), "got a number of 31 digits"),
    ("10**20 in JSON", "in.json", item_json(read_minutes=10**20), f"got {10**20}"),
    ("a hex number too big", "in.yaml", item_yaml(read_minutes="0x" + "F" * 40),
     "got a number of 42 digits"),
    ("lone surrogate in JSON Lines", "in.jsonl",
     json.dumps({"kind": "item", **ITEM_JSON, "title": "\ud800"}) + "\n",
     "title: contains a lone surrogate"),
    ("surrogate bytes in JSON", "in.json", item_json(title="\ud800"), "not UTF-8 text"),
    ("lone surrogate escape in JSON", "in.json", item_json().replace('"A title"', '"a \\udfff b"'),
     "title: contains a lone surrogate"),
    ("lone surrogate escape in YAML", "in.yaml", item_yaml(title='"\\ud800"'),
     "found invalid Unicode character escape code"),
    ("year 1 with an offset", "in.yaml", item_yaml(published_at='"0001-01-01T00:00:00+01:00"'),
     "is outside the years 1900 to 2200"),
    ("year 9999 with an offset", "in.json", item_json(published_at="9999-12-31T23:59:59-01:00"),
     "is outside the years 1900 to 2200"),
    ("year 9999 in UTC", "in.yaml", item_yaml(published_at="9999-12-31T23:59:59Z"),
     "is outside the years 1900 to 2200"),
    ("year 2201 from a feed", "feed.rss",
     '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
     "<guid>g</guid><title>t</title><link>https://example.com/g</link><description>d</description>"
     "<pubDate>Fri, 27 Nov 2201 09:30:00 +0100</pubDate><category>mistral-ai</category>"
     "<category>Expansion</category></item></channel></rss>",
     "is outside the years 1900 to 2200"),
    ("U+2028 inside a JSON Lines string", "in.jsonl",
     json.dumps({"kind": "item", **ITEM_JSON, "title": "a\u2028b"}, ensure_ascii=False) + "\n", None),
    ("U+0085 inside a JSON Lines string", "in.jsonl",
     json.dumps({"kind": "item", **ITEM_JSON, "summary": "a\u0085b\u2029c"}, ensure_ascii=False) + "\n", None),
    ("CRLF line ends in JSON Lines", "in.jsonl",
     json.dumps({"kind": "item", **ITEM_JSON}) + "\r\n\r\n", None),
    ("a Python tag", "in.yaml", item_yaml(title="!!python/object/apply:os.system [echo hi]"),
     "the tag tag:yaml.org,2002:python/object/apply:os.system is not allowed"),
    ("a set tag", "in.yaml", item_yaml(topics="!!set {a: null}"), "is not allowed"),
    ("an undefined alias", "in.yaml", item_yaml(title="*nowhere"), "found undefined alias *nowhere"),
    ("a title of 100,000 characters", "in.yaml", item_yaml(title="x" * 100_000),
     "title: too long: 100000 characters, at most 500"),
    ("a list of 1,000 topics", "in.json", item_json(topics=[f"t{n}" for n in range(1000)]),
     "topics: too many entries: 1000, at most 100"),
    ("a key of a million characters", "in.json", item_json(**{"k" * 1_000_000: "v"}),
     "(1000000 characters): unknown field"),
    ("a YAML key of a million characters", "in.yaml", item_yaml() + "    " + "k" * 1_000_000 + ": v\n",
     "could not find expected ':'"),
    ("a NUL character", "in.yaml", item_yaml(title='"a\\0b"'),
     "title: contains a control character (\\u0000); remove it"),
    ("an escape character", "in.json", item_json(summary="\x1b[31mred"),
     "summary: contains a control character (\\u001b); remove it"),
    ("a second YAML document", "in.yaml", item_yaml() + "---\nitems: []\n",
     "expected a single document in the stream"),
    ("bytes that are not UTF-8", "in.jsonl", "", "not UTF-8 text"),
    ("a JSON Lines line that is a bare number", "in.jsonl", "7\n", "must be a JSON object, got a number (7)"),
    ("NaN in JSON", "in.json", item_json().replace('"companies"', '"read_minutes": NaN, "companies"'),
     "read_minutes: must be a whole number from 1 to 600, got nan"),
    ("an XML entity bomb", "feed.xml",
     '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
     + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(8))
     + ']><rss version="2.0"><channel><title>&i;</title></channel></rss>',
     "feed.xml"),
]  # fmt: skip
BINARY = {"bytes that are not UTF-8": b'{"kind": "company", "slug": "caf\xe9"}\n'}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the bundled sample, shared by the cases (none of them may change it)."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "settings.yaml").write_text((REPO / "settings.yaml").read_text())
    assert main([*args_for(folder), "ingest", str(REPO / "digest" / "data" / "sample.yaml")]) == 0
    return folder


def args_for(folder: Path) -> list[str]:
    return [
        "--settings",
        str(folder / "settings.yaml"),
        "--database",
        f"sqlite:///{folder / 'd.db'}",
    ]


def dump(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return sorted(
            (table, *row)
            for table in tables
            for row in connection.execute(f'SELECT * FROM "{table}"')
        )


PROBLEM_LINE = re.compile(r"[^:\n]+(:(line \d+|[a-z]+\[\d+\]))?: .+")


@pytest.mark.parametrize(
    ("name", "file_name", "content", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_hostile_input_exits_2_with_problem_lines_and_changes_nothing(
    name: str,
    file_name: str,
    content: str,
    expected: str | None,
    store_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = store_dir / "case"
    case.mkdir(exist_ok=True)
    monkeypatch.chdir(case)
    path = case / file_name
    if name in BINARY:
        path.write_bytes(BINARY[name])
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    before = dump(store_dir / "d.db")
    capsys.readouterr()
    code = main([*args_for(store_dir), "ingest", file_name])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if expected is None:
        assert (code, err) == (0, "")
        return
    assert code == 2
    lines = err.splitlines()
    assert lines and all(PROBLEM_LINE.fullmatch(line) for line in lines), lines
    assert all(line.startswith(f"{file_name}:") for line in lines), lines
    assert any(expected in line for line in lines), lines
    assert max(len(line) for line in lines) < 400
    assert dump(store_dir / "d.db") == before
