"""YAML, JSON and JSON Lines sources → RawRecords one at a time (plus problems of the document).

YAML and JSON Lines are read as streams: memory stays flat however long the file. A JSON
document is read whole (up to MAX_DOCUMENT_BYTES). A JSON document that is a JSON Feed is handed
to the JSON Feed reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from yaml.events import MappingStartEvent, ScalarEvent, SequenceStartEvent, StreamEndEvent

from digest.errors import Problem
from digest.ingest.checks import escape, number_literal, quoted, suggest, type_name
from digest.ingest.feeds import FeedEntry
from digest.ingest.fields import Loc
from digest.ingest.jsonfeed import is_json_feed, json_feed_entries
from digest.ingest.limits import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_LINE_BYTES
from digest.ingest.validate import KINDS, Kind, RawRecord
from digest.ingest.yamlstream import Builder, Refused

LISTS: dict[str, Kind] = {"companies": "company", "items": "item", "reads": "read"}
SHAPE = "a document with companies:, items: and/or reads:"


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A document that stops being readable part-way (not YAML, or beyond a limit): its problem
    is the only one worth saying, as what came before it may be a misreading."""

    problem: Problem


# What a reader yields: records, feed entries (checked once every company is known), problems.
Found = RawRecord | FeedEntry | Problem | Unreadable


class DuplicateKey(ValueError):
    pass


def decode(body: bytes, where: str, record: str = "") -> str | Problem:
    """UTF-8 text (a BOM is allowed), or a problem naming the line of the first bad byte."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        newlines = body[: error.start].count(b"\n")
        return Problem(
            where, record or f"line {newlines + 1}", "", "not UTF-8 text; save the file as UTF-8"
        )


def line_of(stream: IO[bytes], offset: int) -> int:
    """The line (from 1) of byte `offset`, counted by reading the stream again from its start."""
    stream.seek(0)
    line, left = 1, offset
    while left > 0 and (chunk := stream.read(min(left, 1 << 20))):
        line += chunk.count(b"\n")
        left -= len(chunk)
    return line


# --- YAML -----------------------------------------------------------------------------------------


def yaml_records(stream: IO[bytes], where: str) -> Iterator[Found]:
    """A YAML document's records, one at a time (see `yamlstream`)."""
    builder: Builder | None = None
    try:
        builder = Builder(stream)
        yield from _yaml_document(builder, where)
    except Refused as refused:
        line = refused.line
        if refused.offset is not None:
            line = line_of(stream, refused.offset)
        yield Unreadable(Problem(where, f"line {line}" if line else "", "", refused.message))
    finally:
        if builder is not None:
            builder.close()


def _yaml_document(builder: Builder, where: str) -> Iterator[Found]:
    first = builder.start()
    if isinstance(first, StreamEndEvent) or (
        isinstance(first, ScalarEvent) and first.implicit[0] and first.value in ("", "~", "null")
    ):
        yield Problem(where, "", "", f"empty; expected {SHAPE}")
        return
    if not isinstance(first, MappingStartEvent):
        # A list at the top is not read: it could be as long as the file.
        got = "a list" if isinstance(first, SequenceStartEvent) else type_name(builder.value())
        yield Problem(where, "", "", f"must be {SHAPE}, got {got}")
        return
    for name, value in builder.entries():
        kind = LISTS.get(name) if isinstance(name, str) else None
        if kind is None:
            yield _unknown_list(name, where)
            skip(builder, value)
        elif isinstance(value, SequenceStartEvent):
            for index, element in enumerate(builder.elements()):
                yield _record(kind, element, Loc(where, f"{name}[{index}]"), index)
        else:
            data = builder.value()
            if data is not None:  # "items:" with nothing under it is fine
                yield Problem(where, "", str(name), f"must be a list, got {type_name(data)}")
    builder.end()


def skip(builder: Builder, first: object) -> None:
    """Read past a value nobody needs (its anchors still count), an element at a time."""
    if isinstance(first, SequenceStartEvent):
        for _ in builder.elements():
            pass
    else:
        builder.value()


# --- JSON -----------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"duplicate key {quoted(key)}; keep one")
        result[key] = value
    return result


def load_json(text: str, where: str, record: str = "") -> tuple[object, Problem | None]:
    """A JSON value within the limits; numbers too long to convert stay text (LongNumber)."""
    too_deep = f"nested deeper than {MAX_DEPTH} levels of lists and mappings"
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_int=number_literal)
    except json.JSONDecodeError as error:
        line = record or f"line {error.lineno}"
        return None, Problem(where, line, "", f"not valid JSON: {error.msg} (column {error.colno})")
    except DuplicateKey as error:
        return None, Problem(where, record, "", f"not valid JSON: {error}")
    except RecursionError:
        return None, Problem(where, record, "", too_deep)
    if _depth_over(data, MAX_DEPTH):
        return None, Problem(where, record, "", too_deep)
    return data, None


def _depth_over(data: object, limit: int) -> bool:
    """Whether lists and mappings nest deeper than `limit` (walked without recursion)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterator[object] | list[object] = iter(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_records(stream: IO[bytes], where: str) -> Iterator[Found]:
    """A JSON document with up to three lists (companies, items, reads), or a JSON Feed."""
    body = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        megabytes = MAX_DOCUMENT_BYTES // (1024 * 1024)
        message = f"larger than {megabytes} MB; write it as JSON Lines (.jsonl), which streams"
        yield Problem(where, "", "", message)
        return
    text = decode(body, where)
    if isinstance(text, Problem):
        yield text
        return
    data, problem = load_json(text, where)
    if problem:
        yield problem
    elif is_json_feed(data):
        yield from json_feed_entries(data, where)
    else:
        yield from records_of_document(data, where)


def records_of_document(data: object, where: str) -> Iterator[Found]:
    if data is None:
        yield Problem(where, "", "", f"empty; expected {SHAPE}")
        return
    if not isinstance(data, Mapping):
        yield Problem(where, "", "", f"must be {SHAPE}, got {type_name(data)}")
        return
    for name, value in data.items():
        kind = LISTS.get(name) if isinstance(name, str) else None
        if kind is None:
            yield _unknown_list(name, where)
        elif value is None:
            continue  # "items:" with nothing under it
        elif not isinstance(value, list):
            yield Problem(where, "", name, f"must be a list, got {type_name(value)}")
        else:
            for index, element in enumerate(value):
                yield _record(kind, element, Loc(where, f"{name}[{index}]"), index)


def _unknown_list(name: object, where: str) -> Problem:
    guess = suggest(name, LISTS) if isinstance(name, str) else None
    hint = f"did you mean {guess}?" if guess else "expected companies, items or reads"
    return Problem(where, "", escape(str(name)), f"unknown list; {hint}")


def _record(kind: Kind, element: object, loc: Loc, number: int) -> Found:
    if isinstance(element, Mapping):
        return RawRecord(kind, loc, element, number)
    message = f"must be a mapping of fields, got {type_name(element)}"
    return Problem(loc.where, loc.record, "", message)


# --- JSON Lines -----------------------------------------------------------------------------------


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(number, line) split on "\\n" only, as JSON Lines says (U+2028 may sit inside a string);
    None for a line over MAX_LINE_BYTES, which is skipped without being held."""
    number = 0
    while chunk := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(chunk) <= MAX_LINE_BYTES or chunk.endswith(b"\n"):
            yield number, chunk
            continue
        while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield number, None


def jsonl_records(stream: IO[bytes], where: str) -> Iterator[Found]:
    """JSON Lines: one object per line, each with a `kind`; blank lines are skipped."""
    for number, line in _lines(stream):
        record = f"line {number}"
        if line is None:
            megabytes = MAX_LINE_BYTES // (1024 * 1024)
            yield Problem(where, record, "", f"longer than {megabytes} MB")
            continue
        text = decode(line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line, where, record)
        if isinstance(text, Problem):
            yield text
            continue
        if not text.strip():
            continue
        data, problem = load_json(text.removesuffix("\n").removesuffix("\r"), where, record)
        if problem:
            yield problem
        elif not isinstance(data, dict):
            yield Problem(where, record, "", f"must be a JSON object, got {type_name(data)}")
        else:
            yield _line_record(data, Loc(where, record), number)


def _line_record(data: dict[str, object], loc: Loc, number: int) -> Found:
    kind = data.pop("kind", None)
    if kind is None:
        message = 'missing; write "kind": "company", "item" or "read"'
        return Problem(loc.where, loc.record, "kind", message)
    if kind not in KINDS:
        guess = suggest(kind, KINDS) if isinstance(kind, str) else None
        hint = f"did you mean {quoted(guess)}?" if guess else 'use "company", "item" or "read"'
        return Problem(loc.where, loc.record, "kind", f"unknown kind {quoted(kind)}; {hint}")
    return RawRecord(kind, loc, data, number)  # type: ignore[arg-type]  # checked just above
