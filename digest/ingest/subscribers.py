"""Subscriber list files (CSV or YAML) → Subscribers, with every problem collected.

CSV: a header `id,email,name,first_name,last_name,status,timezone,weekly,companies,topics,
send_hour,format` (only id and email are required; companies and topics are `;`-separated);
records are `row N` with the header as row 1. YAML: `subscribers:` a list of the same fields,
records `subscribers[N]`. A `name` without `first_name`/`last_name` is split into them only where
that is unambiguous (`digest.names`).

Mailchimp, Substack and Buttondown CSV exports are read too, told apart by their headers
(`read_import`, `digest.ingest.exports`).

An import is checked whole before anything is written, without holding it in memory: each file
is read once as a stream (a YAML list as events, a record at a time: `yamlstream`), and the valid
subscribers wait on disk (`check_import`, `digest.ingest.subscriber_spool`) for the store to
write them a batch at a time.

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
from typing import IO

import yaml
from yaml.events import MappingStartEvent, SequenceStartEvent, StreamEndEvent

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
from digest.ingest.documents import decode, line_of, skip
from digest.ingest.exports import SERVICES, service_of
from digest.ingest.fields import Check, Fields, Loc, Record
from digest.ingest.subscriber_spool import Seen, Spool, SubscriberList
from digest.ingest.yamlstream import Builder, Refused
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


def read_import(
    paths: Iterable[str | Path], followable: Followable | None = None, source: str | None = None
) -> SubscriberList:
    """`check_import`, its subscribers held in memory."""
    with check_import(paths, followable, source) as spool:
        batches = list(spool.batches())
    return SubscriberList(
        tuple(subscriber for batch in batches for subscriber in batch.subscribers),
        {id_: consent for batch in batches for id_, consent in batch.consents.items()},
    )


def check_import(
    paths: Iterable[str | Path], followable: Followable | None = None, source: str | None = None
) -> Spool:
    """Check every row of every file, reading each once as a stream, and return the spool of
    their subscribers (close it); or raise InputError listing every problem, and an id or
    address given twice even in two files. CSV exports of the services in `exports.SERVICES`
    are read too: each file's format is told by its header, or is `source` (a service's name)
    for all."""
    where = [str(path) for path in paths]
    problems: list[Problem] = []
    read = _Read(source)
    spool = Spool()
    try:
        seen = Seen(sum(_size(path) for path in where))
        for path in where:
            for loc, data, consent in read.records(path, problems):
                subscriber = subscriber_from(data, loc, problems, followable)
                if subscriber is not None:
                    seen.add(subscriber, loc, len(problems))
                    spool.add(loc, subscriber, consent)
        found = [read.shown(problem) for problem in seen.problems(problems, spool)]
        if shown := [problem for problem in found if problem]:
            raise InputError(shown)
    except BaseException:
        spool.close()
        raise
    return spool


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # its reader says why


class _Unreadable(Exception):
    """A file that stops being readable part-way (not UTF-8, not CSV): its problem is the only
    one of the file worth saying."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Read:
    """The files of one import: their records (with the consent times of rows from other
    services), those services' own names for the fields, and the files that could not be read
    to the end (which problems then use)."""

    def __init__(self, source: str | None) -> None:
        self.source = SERVICES[source] if source else None
        self.columns: dict[str, Mapping[str, str]] = {}
        self.unreadable: dict[str, Problem] = {}

    def records(self, path: str, problems: list[Problem]) -> Iterator[Row]:
        suffix = Path(path).suffix.lower()
        if suffix not in (".csv", ".yaml", ".yml") or (self.source and suffix != ".csv"):
            kinds = "a .csv file" if self.source else "a .csv, .yaml or .yml file"
            problems.append(Problem(path, "", "", f"unknown file type; use {kinds}"))
            return
        try:
            if suffix == ".csv":
                with open(path, encoding="utf-8-sig", newline="") as stream:
                    yield from self._csv_records(stream, path, problems)
            else:
                yield from _yaml_rows(path, problems)
        except OSError as error:
            problems.append(Problem(path, "", "", f"cannot read: {error.strerror or error}"))
        except UnicodeDecodeError:
            self._unreadable(problems, _not_utf8(path))
        except _Unreadable as unreadable:
            self._unreadable(problems, unreadable.problem)

    def _unreadable(self, problems: list[Problem], problem: Problem) -> None:
        self.unreadable[problem.where] = problem
        problems.append(problem)

    def _csv_records(self, stream: IO[str], where: str, problems: list[Problem]) -> Iterator[Row]:
        table = _csv_table(stream, where, problems)
        if table is None:
            return
        header, rows = table
        service = self.source or service_of(header)
        if service is None:
            if "id" in header or set(header) <= set(COLUMNS):
                yield from _native_records(header, rows, where, problems)
            else:
                problems.append(Problem(where, "row 1", "", _UNKNOWN_FORMAT))
            return
        email = service.email_column(header)
        if email is None:
            message = f"missing column; a {service.label} export has it (is this one?)"
            problems.append(Problem(where, "row 1", service.emails[0], message))
            return
        self.columns[where] = {**service.columns, "email": email}
        for loc, cells in _cells(header, rows, where, problems):
            read = service.read(cells, loc, problems)
            if read is not None:
                yield loc, read.record, read.consent

    def shown(self, problem: Problem) -> Problem | None:
        """The problem with its field as the service's file names it; None for the id of a
        service's row, derived from its address, whose own problem says what to fix, and for
        the rows read before a file stopped being readable."""
        if self.unreadable.get(problem.where, problem) is not problem:
            return None
        columns = self.columns.get(problem.where)
        if columns is None:
            return problem
        if problem.field == "id":
            return None
        column = columns.get(problem.field)
        return replace(problem, field=column) if column else problem


# A record read from a file: where it is, its fields, the consent times of another service's row.
Row = tuple[Loc, Record, Consent | None]

_LABELS = [service.label for service in SERVICES.values()]
_UNKNOWN_FORMAT = (
    f"cannot tell the list's format from its header: it has neither digest's columns "
    f"({','.join(COLUMNS)}) nor those of a {', '.join(_LABELS[:-1])} or {_LABELS[-1]} "
    f"export; rename the columns, or pass --from {'|'.join(SERVICES)}"
)


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


def _csv_table(
    stream: IO[str], where: str, problems: list[Problem]
) -> tuple[list[str], Iterator[tuple[int, list[str]]]] | None:
    """The header and the numbered rows that are not blank (the header is row 1), read as
    they are needed; a row that is not CSV raises _Unreadable."""
    reader = csv.reader(stream)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        number = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                message = f"not valid CSV: {error}"
                raise _Unreadable(Problem(where, f"row {reader.line_num}", "", message)) from None
            yield number, row
            number += 1

    rows = numbered()
    first = next(rows, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        message = f"empty; expected a header line: {','.join(COLUMNS)}"
        problems.append(Problem(where, "row 1", "", message))
        return None
    header = [cell.strip() for cell in first[1]]
    return header, ((number, row) for number, row in rows if any(c.strip() for c in row))


def _cells(
    header: list[str], rows: Iterable[tuple[int, list[str]]], where: str, problems: list[Problem]
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
    header: list[str], rows: Iterable[tuple[int, list[str]]], where: str, problems: list[Problem]
) -> Iterator[Row]:
    if not _header_ok(header, where, problems):
        return
    for loc, cells in _cells(header, rows, where, problems):
        yield loc, {k: _typed(k, v) for k, v in cells.items() if k in COLUMNS}, None


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


def _not_utf8(path: str) -> Problem:
    """The problem of a file that is not UTF-8, naming the line of its first bad byte."""
    problem = decode(Path(path).read_bytes(), path)
    assert isinstance(problem, Problem), "only called once decoding failed"
    return problem


def _yaml_rows(path: str, problems: list[Problem]) -> Iterator[Row]:
    """A YAML list's records, read as a stream of events one record at a time (`yamlstream`);
    a file that stops being YAML part-way raises _Unreadable."""
    with open(path, "rb") as stream:
        builder: Builder | None = None
        try:
            builder = Builder(stream)
            for loc, record in yaml_records(builder, path, problems):
                yield loc, record, None
        except Refused as refused:
            line = refused.line if refused.offset is None else line_of(stream, refused.offset)
            problem = Problem(path, f"line {line}" if line else "", "", refused.message)
            raise _Unreadable(problem) from None
        finally:
            if builder is not None:
                builder.close()


def yaml_records(
    builder: Builder, where: str, problems: list[Problem]
) -> Iterator[tuple[Loc, Record]]:
    """The records of a `subscribers:` list, in the order of the file; the other keys and the
    elements that are not mappings are problems."""
    first = builder.start()
    if not isinstance(first, MappingStartEvent):
        # A list at the top is not read: it could be as long as the file.
        if isinstance(first, SequenceStartEvent):
            got = "a list"
        else:
            got = type_name(None if isinstance(first, StreamEndEvent) else builder.value())
        problems.append(Problem(where, "", "", f"expected a subscribers: list, got {got}"))
        return
    # Said once the whole mapping is read: without a subscribers: key, that is the one problem.
    unknown: list[Problem] = []
    listed = False
    for key, value in builder.entries():
        if key != "subscribers":
            message = "unknown key; only subscribers: is read"
            unknown.append(Problem(where, "", escape(str(key)), message))
            skip(builder, value)
            continue
        listed = True
        if not isinstance(value, SequenceStartEvent):
            if (data := builder.value()) is not None:
                message = f"must be a list, got {type_name(data)}"
                problems.append(Problem(where, "", "subscribers", message))
            continue
        for index, element in enumerate(builder.elements()):
            loc = Loc(where, f"subscribers[{index}]")
            if isinstance(element, Mapping):
                yield loc, element
            else:
                message = f"must be a mapping of fields, got {type_name(element)}"
                problems.append(Problem(where, loc.record, "", message))
    builder.end()
    if listed:
        problems.extend(unknown)
    else:
        message = "expected a subscribers: list, got no subscribers: key"
        problems.append(Problem(where, "", "", message))


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
