"""Subscriber list files (CSV or YAML) → Subscribers, with every problem collected.

CSV: a header `id,email,name,first_name,last_name,status,timezone,weekly,companies,topics,
send_hour,format` (only id and email are required; companies and topics are `;`-separated);
records are `row N` with the header as row 1. YAML: `subscribers:` a list of the same fields,
records `subscribers[N]`. A `name` without `first_name`/`last_name` is split into them only where
that is unambiguous (`digest.names`).

Mailchimp, Substack and Buttondown CSV exports are read too, told apart by their headers
(`read_import`, `digest.ingest.exports`).

`write_subscribers` writes the same formats (`digest subscribers export`), so an export reads back
as the subscribers it came from. A CSV cell that a spreadsheet would run as a formula (starting
with = + - or @) is written with a leading apostrophe, which the reader takes off again.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from digest.errors import InputError, Problem
from digest.ingest.checks import (
    email_problem,
    escape,
    normal_email,
    quoted,
    slug_problem,
    suggest,
    timezone_problem,
    type_name,
)
from digest.ingest.documents import decode, load_yaml
from digest.ingest.exports import SERVICES, Service, address_id, service_of
from digest.ingest.fields import Check, Fields, Loc, Record
from digest.models import Consent, Preferences, Subscriber, SubscriberStatus
from digest.names import person_name

COLUMNS = (
    "id",
    "email",
    "name",
    "first_name",
    "last_name",
    "status",
    "timezone",
    "weekly",
    "companies",
    "topics",
    "send_hour",
    "format",
)
REQUIRED_COLUMNS = ("id", "email")
LIST_COLUMNS = ("companies", "topics")
STATUSES = tuple(status.value for status in SubscriberStatus)
FORMATS = ("html", "text")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# What makes a spreadsheet read a cell as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True, slots=True)
class Followable:
    """What a subscriber can follow: the stored companies' slugs and the controlled list of
    topics (the store's and those declared in settings.yaml)."""

    companies: frozenset[str]
    topics: frozenset[str]

    @classmethod
    def of(cls, companies: Collection[str], topics: Collection[str]) -> Followable:
        return cls(frozenset(companies), frozenset(topics))

    def company_problem(self, slug: str) -> str | None:
        if slug in self.companies:
            return None
        if not self.companies:
            return f"unknown company {quoted(slug)}; no company is stored yet: run digest ingest"
        return f"unknown company {quoted(slug)}; " + _hint(slug, self.companies, "check the slug")

    def topic_problem(self, topic: str) -> str | None:
        if topic in self.topics:
            return None
        unknown = f"unknown topic {quoted(topic)}; "
        declare = "declare it under digests.topics in settings.yaml"
        if not self.topics:
            return unknown + f"no topic is known yet: run digest ingest, or {declare}"
        return unknown + _hint(topic, self.topics, f"check the spelling, or {declare}")


def _hint(word: str, choices: Collection[str], otherwise: str) -> str:
    guess = suggest(word, choices)
    return f"did you mean {quoted(guess)}?" if guess else otherwise


def read_subscribers(
    path: str | Path, followable: Followable | None = None
) -> tuple[Subscriber, ...]:
    """Read a subscriber list; raise InputError listing every problem in it."""
    return read_subscriber_files([path], followable)


def read_subscriber_files(
    paths: Iterable[str | Path], followable: Followable | None = None
) -> tuple[Subscriber, ...]:
    """Read lists as one: every problem of every file, and an id or address given twice even
    in two files; raise InputError listing them all. With `followable`, a company or topic
    that is not on it is a problem too (without, only their form is checked)."""
    return read_import(paths, followable).subscribers


@dataclass(frozen=True, slots=True)
class SubscriberList:
    """What an import read: its subscribers, and the consent times that other services'
    exports gave some of them (by subscriber id)."""

    subscribers: tuple[Subscriber, ...]
    consents: Mapping[str, Consent]

    def exported(self) -> list[str]:
        """The addresses of the subscribers from other services' exports (whose ids are derived
        from their addresses)."""
        return [s.email for s in self.subscribers if s.id == address_id(s.email)]

    def known_as(self, stored: Mapping[str, str]) -> SubscriberList:
        """The list with each subscriber of `exported` whose address is stored already
        (`stored`: {address: id}) under that subscriber's id, which an import then updates: one
        who signed up on the site, or came in an earlier list."""
        exported = set(self.exported())
        ids = {
            s.id: stored.get(s.email, s.id) if s.email in exported else s.id
            for s in self.subscribers
        }
        return SubscriberList(
            tuple(replace(s, id=ids[s.id]) for s in self.subscribers),
            {ids[old]: consent for old, consent in self.consents.items()},
        )


def read_import(
    paths: Iterable[str | Path], followable: Followable | None = None, source: str | None = None
) -> SubscriberList:
    """`read_subscriber_files`, and CSV exports of the services in `exports.SERVICES` too:
    each file's format is told by its header, or is `source` (a service's name) for all."""
    problems: list[Problem] = []
    read = _Read(source)
    rows = [row for path in paths for row in read.records(path, problems)]
    subscribers = subscribers_from(rows, problems, followable)
    if problems:
        raise InputError(shown for problem in problems if (shown := read.shown(problem)))
    consents = {
        subscriber.id: read.consents[loc]
        for (loc, _), subscriber in zip(rows, subscribers, strict=True)
        if loc in read.consents
    }
    return SubscriberList(subscribers, consents)


class _Read:
    """The files of one import: their records, the consent times of rows from other services,
    and those services' own names for the fields (which problems then use)."""

    def __init__(self, source: str | None) -> None:
        self.source = SERVICES[source] if source else None
        self.consents: dict[Loc, Consent] = {}
        self.columns: dict[str, Mapping[str, str]] = {}

    def records(self, path: str | Path, problems: list[Problem]) -> list[tuple[Loc, Record]]:
        where = str(path)
        suffix = Path(where).suffix.lower()
        if suffix not in (".csv", ".yaml", ".yml") or (self.source and suffix != ".csv"):
            kinds = "a .csv file" if self.source else "a .csv, .yaml or .yml file"
            problems.append(Problem(where, "", "", f"unknown file type; use {kinds}"))
            return []
        try:
            body = Path(where).read_bytes()
        except OSError as error:
            problems.append(Problem(where, "", "", f"cannot read: {error.strerror or error}"))
            return []
        text = decode(body, where)
        if isinstance(text, Problem):
            problems.append(text)
            return []
        if suffix != ".csv":
            return yaml_records(text, where, problems)
        table = _csv_table(text, where, problems)
        if table is None:
            return []
        header, rows = table
        service = self.source or service_of(header)
        if service is None:
            if "id" in header or set(header) <= set(COLUMNS):
                return _native_records(header, rows, where, problems)
            problems.append(Problem(where, "row 1", "", _UNKNOWN_FORMAT))
            return []
        return self._service_records(service, header, rows, where, problems)

    def _service_records(
        self,
        service: Service,
        header: list[str],
        rows: list[tuple[int, list[str]]],
        where: str,
        problems: list[Problem],
    ) -> list[tuple[Loc, Record]]:
        email = service.email_column(header)
        if email is None:
            message = f"missing column; a {service.label} export has it (is this one?)"
            problems.append(Problem(where, "row 1", service.emails[0], message))
            return []
        self.columns[where] = {**service.columns, "email": email}
        records: list[tuple[Loc, Record]] = []
        for loc, cells in _cells(header, rows, where, problems):
            read = service.read(cells, loc, problems)
            if read is not None:
                records.append((loc, read.record))
                self.consents[loc] = read.consent
        return records

    def shown(self, problem: Problem) -> Problem | None:
        """The problem with its field as the service's file names it; None for the id of a
        service's row, derived from its address, whose own problem says what to fix."""
        columns = self.columns.get(problem.where)
        if columns is None:
            return problem
        if problem.field == "id":
            return None
        column = columns.get(problem.field)
        return replace(problem, field=column) if column else problem


_LABELS = [service.label for service in SERVICES.values()]
_UNKNOWN_FORMAT = (
    f"cannot tell the list's format from its header: it has neither digest's columns "
    f"({','.join(COLUMNS)}) nor those of a {', '.join(_LABELS[:-1])} or {_LABELS[-1]} "
    f"export; rename the columns, or pass --from {'|'.join(SERVICES)}"
)


def subscribers_from(
    rows: list[tuple[Loc, Record]], problems: list[Problem], followable: Followable | None = None
) -> tuple[Subscriber, ...]:
    """Validate parsed rows; duplicates of an id or (case-insensitively) an email are problems."""
    subscribers: list[Subscriber] = []
    first_id: dict[str, Loc] = {}
    first_email: dict[str, Loc] = {}
    for loc, data in rows:
        subscriber = subscriber_from(data, loc, problems, followable)
        if subscriber is None:
            continue
        earlier = first_id.setdefault(subscriber.id, loc)
        if earlier is not loc:
            message = f"duplicate id {quoted(subscriber.id)}; the first is at {_at(earlier, loc)}"
            problems.append(Problem(loc.where, loc.record, "id", message))
        earlier = first_email.setdefault(subscriber.email.casefold(), loc)
        if earlier is not loc:
            message = (
                f"{quoted(subscriber.email)} is already at {_at(earlier, loc)}; "
                "keep one row per address"
            )
            problems.append(Problem(loc.where, loc.record, "email", message))
        subscribers.append(subscriber)
    return tuple(subscribers)


def _at(earlier: Loc, loc: Loc) -> str:
    """Where the first of two records is: its record, and its file when that is another one."""
    return earlier.record if earlier.where == loc.where else str(earlier)


def subscriber_from(
    data: Record, loc: Loc, problems: list[Problem], followable: Followable | None = None
) -> Subscriber | None:
    before = len(problems)
    f = Fields(data, loc, problems, noun="subscriber", known=COLUMNS)
    subscriber_id = f.text("id")
    email = f.text("email", check=email_problem)
    name = person_name(
        f.text("name", required=False) or "",
        given=f.text("first_name", required=False) or "",
        family=f.text("last_name", required=False) or "",
    )
    status = f.text("status", required=False, check=_one_of(STATUSES, "status")) or "active"
    timezone = f.text("timezone", required=False, check=timezone_problem) or ""
    weekly = f.flag("weekly", default=True)
    companies = f.text_list("companies", check=_company_check(followable))
    topics = f.text_list("topics", check=followable.topic_problem if followable else None)
    # Absent: none chosen, the site's hour (`site.send_hour`) applies when the email is planned.
    send_hour = f.whole("send_hour", 0, 23) if data.get("send_hour") is not None else None
    email_format = f.text("format", required=False, check=_one_of(FORMATS, "format")) or "html"
    if len(problems) > before:
        return None
    assert subscriber_id and email and weekly is not None
    assert companies is not None and topics is not None
    preferences = Preferences(
        weekly=weekly,
        companies=companies,
        topics=topics,
        send_hour=send_hour,
        format="text" if email_format == "text" else "html",
    )
    return Subscriber(
        id=subscriber_id,
        email=normal_email(email),
        name=name.name,  # on one line: a line break in a To: header would inject headers
        given_name=name.given,
        family_name=name.family,
        status=SubscriberStatus(status),
        timezone=timezone,
        preferences=preferences,
    )


def _company_check(followable: Followable | None) -> Check:
    """A followed company's slug: well formed, then (with `followable`) one that exists."""
    if followable is None:
        return slug_problem
    return lambda slug: slug_problem(slug) or followable.company_problem(slug)


def _one_of(choices: tuple[str, ...], what: str) -> Check:
    def check(value: str) -> str | None:
        if value in choices:
            return None
        listed = ", ".join(choices)
        guess = suggest(value, choices)
        hint = f"did you mean {quoted(guess)}? " if guess else ""
        return f"{quoted(value)} is not a {what}; {hint}({listed})"

    return check


def csv_records(text: str, where: str, problems: list[Problem]) -> list[tuple[Loc, Record]]:
    """CSV rows of digest's list format as typed mappings; blank rows are skipped but still
    counted."""
    table = _csv_table(text, where, problems)
    return _native_records(*table, where, problems) if table is not None else []


def _csv_table(
    text: str, where: str, problems: list[Problem]
) -> tuple[list[str], list[tuple[int, list[str]]]] | None:
    """The header and the numbered rows that are not blank (the header is row 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as error:
        problems.append(Problem(where, f"row {reader.line_num}", "", f"not valid CSV: {error}"))
        return None
    if not rows or not any(cell.strip() for cell in rows[0]):
        message = f"empty; expected a header line: {','.join(COLUMNS)}"
        problems.append(Problem(where, "row 1", "", message))
        return None
    header = [cell.strip() for cell in rows[0]]
    numbered = enumerate(rows[1:], start=2)
    return header, [(number, row) for number, row in numbered if any(c.strip() for c in row)]


def _cells(
    header: list[str], rows: list[tuple[int, list[str]]], where: str, problems: list[Problem]
) -> Iterator[tuple[Loc, dict[str, str]]]:
    """Each row as {column: cell}; a row of more cells than the header has is a problem."""
    for number, row in rows:
        loc = Loc(where, f"row {number}")
        if len(row) > len(header):
            message = (
                f"{len(row)} cells but {len(header)} columns; "
                "put cells that contain commas in double quotes"
            )
            problems.append(Problem(where, loc.record, "", message))
            continue
        yield loc, dict(zip(header, row, strict=False))


def _native_records(
    header: list[str], rows: list[tuple[int, list[str]]], where: str, problems: list[Problem]
) -> list[tuple[Loc, Record]]:
    if not _header_ok(header, where, problems):
        return []
    return [
        (loc, {k: _typed(k, v) for k, v in cells.items() if k in COLUMNS})
        for loc, cells in _cells(header, rows, where, problems)
    ]


def _header_ok(header: list[str], where: str, problems: list[Problem]) -> bool:
    """Report header problems; False when rows cannot be read (a column missing or twice)."""
    ok = True
    seen: set[str] = set()
    for column in header:
        if column in seen:
            ok = False
            problems.append(Problem(where, "row 1", column, "duplicate column; keep one"))
        elif column not in COLUMNS:
            guess = suggest(column, COLUMNS)
            hint = f"did you mean {guess}?" if guess else f"the columns are {','.join(COLUMNS)}"
            problems.append(Problem(where, "row 1", column, f"unknown column; {hint}"))
        seen.add(column)
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            ok = False
            message = "missing column; the header needs at least id and email"
            problems.append(Problem(where, "row 1", column, message))
    # Unknown columns are reported and their cells ignored; rows are still checked.
    return ok


def _typed(column: str, cell: str) -> object:
    """A CSV cell as the YAML reader would have typed it; bad values stay text for the message."""
    cell = cell.strip()
    if not cell:
        return None
    if cell[0] == "'" and cell[1:2] in _FORMULA_STARTS:
        cell = cell[1:]  # written by write_subscribers to keep spreadsheets from running it
    if column in LIST_COLUMNS:
        return [part for part in (p.strip() for p in cell.split(";")) if part]
    if column == "send_hour" and _INTEGER.fullmatch(cell):
        return int(cell)
    if column in ("status", "format"):
        return cell.lower()
    return cell


def yaml_records(text: str, where: str, problems: list[Problem]) -> list[tuple[Loc, Record]]:
    data, problem = load_yaml(text, where)
    if problem:
        problems.append(problem)
        return []
    if not isinstance(data, Mapping) or "subscribers" not in data:
        got = type_name(data) if not isinstance(data, Mapping) else "no subscribers: key"
        problems.append(Problem(where, "", "", f"expected a subscribers: list, got {got}"))
        return []
    for key in data:
        if key != "subscribers":
            message = "unknown key; only subscribers: is read"
            problems.append(Problem(where, "", escape(str(key)), message))
    value = data["subscribers"]
    if value is None:
        return []
    if not isinstance(value, list):
        message = f"must be a list, got {type_name(value)}"
        problems.append(Problem(where, "", "subscribers", message))
        return []
    records: list[tuple[Loc, Record]] = []
    for index, element in enumerate(value):
        loc = Loc(where, f"subscribers[{index}]")
        if isinstance(element, Mapping):
            records.append((loc, element))
        else:
            message = f"must be a mapping of fields, got {type_name(element)}"
            problems.append(Problem(where, loc.record, "", message))
    return records


# Writing -------------------------------------------------------------------------------------


def subscriber_record(subscriber: Subscriber) -> dict[str, object]:
    """A subscriber as a record of the list format, every column present."""
    preferences = subscriber.preferences
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "name": subscriber.name,
        "first_name": subscriber.given_name,
        "last_name": subscriber.family_name,
        "status": subscriber.status.value,
        "timezone": subscriber.timezone,
        "weekly": preferences.weekly,
        "companies": list(preferences.companies),
        "topics": list(preferences.topics),
        "send_hour": preferences.send_hour,
        "format": preferences.format,
    }


def subscribers_csv(subscribers: Iterable[Subscriber]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for subscriber in subscribers:
        record = subscriber_record(subscriber)
        writer.writerow([_cell(record[column]) for column in COLUMNS])
    return out.getvalue()


def subscribers_yaml(subscribers: Iterable[Subscriber]) -> str:
    records = [subscriber_record(subscriber) for subscriber in subscribers]
    return yaml.safe_dump(
        {"subscribers": records}, allow_unicode=True, sort_keys=False, default_flow_style=None
    )


def write_subscribers(path: str | Path, subscribers: Iterable[Subscriber]) -> int:
    """Write a .csv, .yaml or .yml list (replacing the file whole); how many were written."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        problem = Problem(str(path), "", "", "unknown file type; use a .csv, .yaml or .yml file")
        raise InputError([problem])
    chosen = list(subscribers)
    body = subscribers_csv(chosen) if suffix == ".csv" else subscribers_yaml(chosen)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_text(body, encoding="utf-8", newline="")
        os.replace(partial, target)
    except OSError as error:
        message = f"cannot write: {error.strerror or error}"
        raise InputError([Problem(str(path), "", "", message)]) from None
    return len(chosen)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = ";".join(str(part) for part in value) if isinstance(value, list) else str(value)
    return f"'{text}" if text[:1] in _FORMULA_STARTS else text
