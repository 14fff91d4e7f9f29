"""read_subscribers on CSV and YAML subscriber lists."""

# Tables of exact problem lines read best one case to a line.
# ruff: noqa: E501

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from digest.errors import InputError
from digest.ingest import read_subscribers, subscriber_spool
from digest.ingest.subscribers import yaml_records
from digest.ingest.yamlstream import Builder
from digest.models import Preferences, Subscriber, SubscriberStatus

HEADER = (
    "id,email,name,first_name,last_name,status,timezone,weekly,companies,topics,send_hour,format"
)
ROW = {
    "id": "s1",
    "email": "ann@example.com",
    "name": "Ann Lee",
    "status": "active",
    "timezone": "Europe/Stockholm",
    "weekly": "true",
    "companies": "mistral-ai;deepseek",
    "topics": "Geopolitics",
    "send_hour": "7",
    "format": "html",
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def csv_file(*rows: dict[str, str], header: str = HEADER, name: str = "list.csv") -> str:
    columns = header.split(",")
    lines = [header] + [",".join(row.get(column, "") for column in columns) for row in rows]
    Path(name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def problems(name: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_subscribers(name)
    return [str(problem) for problem in caught.value.problems]


def test_reads_a_csv_list() -> None:
    minimal = {"id": "s2", "email": "Bob@Example.COM"}
    (ann, bob) = read_subscribers(csv_file(ROW, minimal))
    assert ann == Subscriber(
        id="s1",
        email="ann@example.com",
        name="Ann Lee",
        status=SubscriberStatus.ACTIVE,
        timezone="Europe/Stockholm",
        preferences=Preferences(
            weekly=True,
            companies=("mistral-ai", "deepseek"),
            topics=("Geopolitics",),
            send_hour=7,
            format="html",
        ),
        given_name="Ann",
        family_name="Lee",
    )
    # Optional columns default; the domain is lower-cased, the local part kept.
    assert bob == Subscriber(id="s2", email="Bob@example.com", name="")


def test_optional_columns_may_be_left_out_of_the_header() -> None:
    (subscriber,) = read_subscribers(csv_file({"id": "s1", "email": "a@b.io"}, header="id,email"))
    assert subscriber == Subscriber(id="s1", email="a@b.io", name="")


@pytest.mark.parametrize(
    ("cell", "weekly"),
    [("true", True), ("Yes", True), ("1", True), ("false", False), ("no", False), ("0", False)],
)
def test_weekly_spellings(cell: str, weekly: bool) -> None:
    (subscriber,) = read_subscribers(csv_file({**ROW, "weekly": cell}))
    assert subscriber.preferences.weekly is weekly


def test_name_loses_line_breaks_and_cells_may_be_quoted() -> None:
    Path("list.csv").write_text(
        'id,email,name,topics\ns1,a@b.io,"Ann\r\nLee\nBcc: x@y.z","Compute Economics;AI, Policy"\n',
        encoding="utf-8",
    )
    (subscriber,) = read_subscribers("list.csv")
    assert subscriber.name == "Ann Lee Bcc: x@y.z"
    assert subscriber.preferences.topics == ("Compute Economics", "AI, Policy")


def test_a_byte_order_mark_is_fine() -> None:
    Path("list.csv").write_bytes(b"\xef\xbb\xbfid,email\ns1,a@b.io\n")
    assert read_subscribers("list.csv")[0].id == "s1"


CSV_CASES = [
    ("email", "ann", 'email: "ann" must have exactly one "@"; write it as name@example.com'),
    ("email", "a@b@c.io", 'email: "a@b@c.io" must have exactly one "@"; write it as name@example.com'),
    ("email", "ann@localhost", 'email: "ann@localhost" needs a name and a dotted domain; write it as name@example.com'),
    ("email", "@example.com", 'email: "@example.com" needs a name and a dotted domain; write it as name@example.com'),
    ("email", "ann@example..com", 'email: "ann@example..com" needs a name and a dotted domain; write it as name@example.com'),
    ("email", '"ann lee@example.com"', 'email: "ann lee@example.com" contains spaces or line breaks; write it as name@example.com'),
    ("email", '"ann@example.com\nBcc: x@y.z"', 'email: "ann@example.com\\nBcc: x@y.z" contains spaces or line breaks; write it as name@example.com'),
    ("email", "<ann@example.com>", 'email: "<ann@example.com>" contains one of ( ) < > [ ] \\ , ; : "; write it as name@example.com'),
    ("email", "jörg@example.de", 'email: "jörg@example.de" has non-ASCII letters before the @, which cannot be mailed yet'),
    ("email", "ann@exämple..de", 'email: "ann@exämple..de" needs a name and a dotted domain; write it as name@example.com'),
    ("email", "", "email: missing; every subscriber needs one"),
    ("id", "", "id: missing; every subscriber needs one"),
    ("status", "activ", 'status: "activ" is not a status; did you mean "active"? (pending, active, unsubscribed, bounced, complained)'),
    ("status", "gone", 'status: "gone" is not a status; (pending, active, unsubscribed, bounced, complained)'),
    ("timezone", "Europe/Stokholm", 'timezone: "Europe/Stokholm" is not an IANA time zone; did you mean "Europe/Stockholm"?'),
    ("timezone", "europe/stockholm", 'timezone: "europe/stockholm" is not an IANA time zone; did you mean "Europe/Stockholm"?'),
    ("timezone", "+01:00", 'timezone: "+01:00" is not an IANA time zone, e.g. Europe/Paris'),
    ("weekly", "maybe", 'weekly: must be true or false (or yes/no, 1/0), got "maybe"'),
    ("send_hour", "24", "send_hour: must be a whole number from 0 to 23, got 24"),
    ("send_hour", "-1", "send_hour: must be a whole number from 0 to 23, got -1"),
    ("send_hour", "eight", 'send_hour: must be a whole number from 0 to 23, got "eight"'),
    ("send_hour", "7.5", 'send_hour: must be a whole number from 0 to 23, got "7.5"'),
    ("format", "pdf", 'format: "pdf" is not a format; (html, text)'),
    ("companies", "mistral-ai;Deep Seek", 'companies[1]: "Deep Seek" is not a valid slug; use lower-case letters, digits and single hyphens, e.g. "deep-seek"'),
    ("companies", "a;b;a", 'companies[2]: "a" is listed twice (also companies[0]); drop one'),
]  # fmt: skip


@pytest.mark.parametrize(("column", "cell", "expected"), CSV_CASES)
def test_csv_problem(column: str, cell: str, expected: str) -> None:
    assert problems(csv_file({**ROW, column: cell})) == [f"list.csv:row 2: {expected}"]


def test_duplicate_email_names_both_rows() -> None:
    rows = [
        ROW,
        {**ROW, "id": "s2", "email": "x@example.com"},
        {**ROW, "id": "s3", "email": "ANN@example.com"},
    ]
    assert problems(csv_file(*rows)) == [
        'list.csv:row 4: email: "ANN@example.com" is already at row 2; keep one row per address'
    ]


def test_duplicate_id() -> None:
    rows = [ROW, {**ROW, "email": "other@example.com"}]
    assert problems(csv_file(*rows)) == [
        'list.csv:row 3: id: duplicate id "s1"; the first is at row 2'
    ]


def test_rows_count_the_header_and_blank_lines() -> None:
    Path("list.csv").write_text("id,email\ns1,a@b.io\n\ns2,nope\n", encoding="utf-8")
    assert problems("list.csv") == [
        'list.csv:row 4: email: "nope" must have exactly one "@"; write it as name@example.com'
    ]


def test_all_problems_of_all_rows() -> None:
    rows = [{**ROW, "status": "x", "send_hour": "99"}, {**ROW, "id": "s2", "email": "bad"}]
    assert problems(csv_file(*rows)) == [
        'list.csv:row 2: status: "x" is not a status; '
        "(pending, active, unsubscribed, bounced, complained)",
        "list.csv:row 2: send_hour: must be a whole number from 0 to 23, got 99",
        'list.csv:row 3: email: "bad" must have exactly one "@"; write it as name@example.com',
    ]


HEADER_CASES = [
    ("id,name", "list.csv:row 1: email: missing column; the header needs at least id and email"),
    ("id,email,emial", "list.csv:row 1: emial: unknown column; did you mean email?"),
    ("id,email,zzz", f"list.csv:row 1: zzz: unknown column; the columns are {HEADER}"),
    ("id,email,email", "list.csv:row 1: email: duplicate column; keep one"),
]  # fmt: skip


@pytest.mark.parametrize(("header", "expected"), HEADER_CASES)
def test_header_problem(header: str, expected: str) -> None:
    Path("list.csv").write_text(f"{header}\ns1,a@b.io,x\n", encoding="utf-8")
    assert problems("list.csv") == [expected]


def test_row_with_too_many_cells() -> None:
    Path("list.csv").write_text("id,email,name\ns1,a@b.io,Lee, Ann\n", encoding="utf-8")
    assert problems("list.csv") == [
        "list.csv:row 2: 4 cells but 3 columns; put cells that contain commas in double quotes"
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("list.csv", "", "list.csv:row 1: empty; expected a header line: " + HEADER),
        ("list.txt", "id,email\n", "list.txt: unknown file type; use a .csv, .yaml or .yml file"),
        ("list.yaml", "subscribers: {id: x}\n", "list.yaml: subscribers: must be a list, got a mapping"),
        ("list.yaml", "- id: x\n", "list.yaml: expected a subscribers: list, got a list"),
        ("list.yaml", "subscriber: []\n", "list.yaml: expected a subscribers: list, got no subscribers: key"),
        ("list.yaml", "subscribers: [\n", "list.yaml:line 2: not valid YAML: did not find expected node content (while parsing a flow node)"),
        ("list.yaml", "subscribers: [x]\n", 'list.yaml:subscribers[0]: must be a mapping of fields, got text ("x")'),
    ],
)  # fmt: skip
def test_file_problem(name: str, content: str, expected: str) -> None:
    Path(name).write_text(content, encoding="utf-8")
    assert problems(name) == [expected]


def test_a_file_that_stops_being_utf8_has_only_that_problem() -> None:
    """The rows before the bad byte (more than the reader decodes at once) were checked
    already; their problems are not said."""
    rows = b"".join(b"s%d,nope\n" % n for n in range(3000))
    Path("list.csv").write_bytes(b"id,email\n" + rows + b"s,caf\xe9@example.com\n")
    assert problems("list.csv") == ["list.csv:line 3002: not UTF-8 text; save the file as UTF-8"]


def test_a_file_that_stops_being_csv_has_only_that_problem() -> None:
    long_cell = "x" * 200_000  # past the csv module's field limit
    Path("list.csv").write_text(f"id,email\ns1,nope\ns2,{long_cell}\n", encoding="utf-8")
    assert problems("list.csv") == [
        "list.csv:row 3: not valid CSV: field larger than field limit (131072)"
    ]


def test_a_repeat_is_told_from_values_that_share_a_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 8 bits for 60 ids and addresses, nearly every row shares a bit with an earlier one;
    only the true repeat is a problem, and it names the row it repeats."""
    monkeypatch.setattr(subscriber_spool, "MIN_BITS", 8)
    monkeypatch.setattr(subscriber_spool, "MAX_BITS", 8)
    rows = [{"id": f"s{n}", "email": f"r{n}@example.com"} for n in range(60)]
    rows.append({"id": "s60", "email": "R17@example.com"})
    assert problems(csv_file(*rows, header="id,email")) == [
        'list.csv:row 62: email: "R17@example.com" is already at row 19; keep one row per address'
    ]
    assert len(read_subscribers(csv_file(*rows[:-1], header="id,email"))) == 60


def test_missing_file() -> None:
    assert problems("nope.csv") == ["nope.csv: cannot read: No such file or directory"]


YAML_LIST: dict[str, list[dict[str, Any]]] = {
    "subscribers": [
        {
            "id": "s1",
            "email": "ann@Example.com",
            "name": "Ann",
            "weekly": False,
            "companies": ["mistral-ai"],
            "topics": ["Geopolitics", "Compute Economics"],
            "send_hour": 0,
            "format": "text",
            "status": "pending",
            "timezone": "Asia/Tokyo",
        },
        {"id": "s2", "email": "bob@example.com"},
    ]
}


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_reads_a_yaml_list(suffix: str) -> None:
    Path(f"list{suffix}").write_text(yaml.safe_dump(YAML_LIST), encoding="utf-8")
    ann, bob = read_subscribers(Path(f"list{suffix}"))
    assert ann == Subscriber(
        id="s1",
        email="ann@example.com",
        name="Ann",
        status=SubscriberStatus.PENDING,
        timezone="Asia/Tokyo",
        preferences=Preferences(
            weekly=False,
            companies=("mistral-ai",),
            topics=("Geopolitics", "Compute Economics"),
            send_hour=0,
            format="text",
        ),
    )
    assert bob == Subscriber(id="s2", email="bob@example.com", name="")


YAML_CASES = [
    ("companies", "mistral-ai", 'companies: must be a list, got text ("mistral-ai"); write it as ["mistral-ai"]'),
    ("send_hour", True, "send_hour: must be a whole number from 0 to 23, got true"),
    ("weekly", "sometimes", 'weekly: must be true or false (or yes/no, 1/0), got "sometimes"'),
    ("emial", "x", "emial: unknown field; did you mean email?"),
    ("email", ["a@b.io"], "email: must be text, got a list"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "expected"), YAML_CASES)
def test_yaml_problem(field: str, value: object, expected: str) -> None:
    document = {
        "subscribers": [YAML_LIST["subscribers"][1], {**YAML_LIST["subscribers"][0], field: value}]
    }
    Path("list.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    assert problems("list.yaml") == [f"list.yaml:subscribers[1]: {expected}"]


def test_yaml_duplicate_email_names_both_records() -> None:
    document = {"subscribers": [{"id": "a", "email": "x@y.io"}, {"id": "b", "email": "X@Y.IO"}]}
    Path("list.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    assert problems("list.yaml") == [
        'list.yaml:subscribers[1]: email: "X@y.io" is already at subscribers[0]; '
        "keep one row per address"
    ]


class CountedReads(io.BytesIO):
    """A file that counts the bytes its reader has asked for."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_a_yaml_list_is_read_a_record_at_a_time() -> None:
    rows = "".join(f"  - {{id: s{n}, email: reader{n}@example.com}}\n" for n in range(20_000))
    stream = CountedReads(f"subscribers:\n{rows}".encode())
    records = yaml_records(Builder(stream), "list.yaml", [])
    loc, record = next(records)
    assert (loc.record, record) == ("subscribers[0]", {"id": "s0", "email": "reader0@example.com"})
    assert stream.bytes_read < len(stream.getvalue()) / 10


def test_a_yaml_list_that_stops_being_yaml_has_only_that_problem() -> None:
    """Its records before the break were checked already; their problems are not said."""
    rows = "".join(f"  - {{id: s{n}, email: nope}}\n" for n in range(3000))
    Path("list.yaml").write_text(f"subscribers:\n{rows}  - {{id: [\n", encoding="utf-8")
    assert problems("list.yaml") == [
        "list.yaml:line 3003: not valid YAML: did not find expected node content"
        " (while parsing a flow node)"
    ]


def test_a_yaml_list_that_stops_being_utf8_names_the_line() -> None:
    rows = b"".join(b"  - {id: s%d, email: nope}\n" for n in range(3000))
    Path("list.yaml").write_bytes(b"subscribers:\n" + rows + b"  - {id: s, email: caf\xe9}\n")
    assert problems("list.yaml") == ["list.yaml:line 3002: not UTF-8 text; save the file as UTF-8"]


def test_other_keys_beside_the_yaml_list_are_said_after_its_records() -> None:
    document = "subscribers:\n  - {id: s1, email: nope}\nlists: [a]\n"
    Path("list.yaml").write_text(document, encoding="utf-8")
    assert problems("list.yaml") == [
        'list.yaml:subscribers[0]: email: "nope" must have exactly one "@"; '
        "write it as name@example.com",
        "list.yaml: lists: unknown key; only subscribers: is read",
    ]


def test_an_alias_bomb_in_a_yaml_list_is_refused() -> None:
    lines = [
        "subscribers:",
        "  - id: s1",
        "    email: a@example.com",
        "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]",
    ]
    lines += [f"    a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 4)]  # fmt: skip
    Path("list.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert problems("list.yaml") == [
        "list.yaml:line 7: more than 10000 values in one record once its aliases are expanded; "
        "write the values out instead of repeating aliases"
    ]


def test_an_internationalised_domain_is_kept_in_its_ascii_form() -> None:
    (subscriber,) = read_subscribers(csv_file({**ROW, "email": "Ann@Bücher.DE"}))
    assert subscriber.email == "Ann@xn--bcher-kva.de"


NAME_COLUMNS = [
    # (cells, (name, given_name, family_name))
    ({"name": '"Kowalski, Anna"'}, ("Anna Kowalski", "Anna", "Kowalski")),
    ({"name": "李娜"}, ("李娜", "", "")),
    ({"first_name": "Anna", "last_name": "Kowalski"}, ("Anna Kowalski", "Anna", "Kowalski")),
    (
        {"name": "田中 由紀", "first_name": "由紀", "last_name": "田中"},
        ("田中 由紀", "由紀", "田中"),
    ),
    ({"first_name": "Cher"}, ("Cher", "Cher", "")),
]


@pytest.mark.parametrize(("cells", "read"), NAME_COLUMNS)
def test_names_come_from_first_and_last_name_or_an_unambiguous_name(
    cells: dict[str, str], read: tuple[str, str, str]
) -> None:
    header = "id,email,name,first_name,last_name"
    row = {"id": "s1", "email": "a@example.com", **cells}
    (subscriber,) = read_subscribers(csv_file(row, header=header))
    assert (subscriber.name, subscriber.given_name, subscriber.family_name) == read
