"""YAML, JSON and JSON Lines documents → RawRecords (plus problems of the document itself)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import yaml

from digest.errors import Problem
from digest.ingest.checks import escape, quoted, suggest, type_name
from digest.ingest.fields import Loc
from digest.ingest.validate import KINDS, Kind, RawRecord

LISTS: dict[str, Kind] = {"companies": "company", "items": "item", "reads": "read"}

Parsed = tuple[list[RawRecord], list[Problem]]


class DuplicateKey(ValueError):
    pass


def decode(body: bytes, where: str) -> str | Problem:
    """UTF-8 text (a BOM is allowed), or a problem naming the line of the first bad byte."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        return Problem(where, f"line {line}", "", "not UTF-8 text; save the file as UTF-8")


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[object, object]:
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # "<<" merges are meant to be overridden
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {quoted(key)} (first on line {seen[key] + 1}); keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    mapping: dict[object, object] = loader.construct_mapping(node, deep=True)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"duplicate key {quoted(key)}; keep one")
        result[key] = value
    return result


def load_yaml(text: str, where: str) -> tuple[object, Problem | None]:
    try:
        return yaml.load(text, Loader=_Loader), None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        record = f"line {mark.line + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        detail = f"{reason} ({context})" if context else reason
        return None, Problem(where, record, "", f"not valid YAML: {detail}")


def load_json(text: str, where: str, record: str = "") -> tuple[object, Problem | None]:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates), None
    except json.JSONDecodeError as error:
        line = record or f"line {error.lineno}"
        return None, Problem(where, line, "", f"not valid JSON: {error.msg} (column {error.colno})")
    except DuplicateKey as error:
        return None, Problem(where, record, "", f"not valid JSON: {error}")


def parse_document(body: bytes, where: str, fmt: str) -> Parsed:
    """A YAML or JSON document with up to three top-level lists: companies, items, reads."""
    text = decode(body, where)
    if isinstance(text, Problem):
        return [], [text]
    data, problem = load_yaml(text, where) if fmt == "yaml" else load_json(text, where)
    if problem:
        return [], [problem]
    return records_of_document(data, where)


def records_of_document(data: object, where: str) -> Parsed:
    shape = "a document with companies:, items: and/or reads:"
    if data is None:
        return [], [Problem(where, "", "", f"empty; expected {shape}")]
    if not isinstance(data, Mapping):
        return [], [Problem(where, "", "", f"must be {shape}, got {type_name(data)}")]
    records: list[RawRecord] = []
    problems: list[Problem] = []
    for name, value in data.items():
        kind = LISTS.get(name) if isinstance(name, str) else None
        if kind is None:
            guess = suggest(name, LISTS) if isinstance(name, str) else None
            hint = f"did you mean {guess}?" if guess else "expected companies, items or reads"
            problems.append(Problem(where, "", escape(str(name)), f"unknown list; {hint}"))
            continue
        if value is None:
            continue  # "items:" with nothing under it
        if not isinstance(value, list):
            problems.append(Problem(where, "", name, f"must be a list, got {type_name(value)}"))
            continue
        for index, element in enumerate(value):
            loc = Loc(where, f"{name}[{index}]")
            if isinstance(element, Mapping):
                records.append(RawRecord(kind, loc, element))
            else:
                message = f"must be a mapping of fields, got {type_name(element)}"
                problems.append(Problem(where, loc.record, "", message))
    return records, problems


def parse_jsonl(body: bytes, where: str) -> Parsed:
    """JSON Lines: one object per line, each with a `kind`; blank lines are skipped."""
    text = decode(body, where)
    if isinstance(text, Problem):
        return [], [text]
    records: list[RawRecord] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = f"line {number}"
        data, problem = load_json(line, where, record)
        if problem:
            problems.append(problem)
            continue
        if not isinstance(data, dict):
            message = f"must be a JSON object, got {type_name(data)}"
            problems.append(Problem(where, record, "", message))
            continue
        kind = data.pop("kind", None)
        if kind is None:
            message = 'missing; write "kind": "company", "item" or "read"'
            problems.append(Problem(where, record, "kind", message))
        elif kind not in KINDS:
            guess = suggest(kind, KINDS) if isinstance(kind, str) else None
            hint = f"did you mean {quoted(guess)}?" if guess else 'use "company", "item" or "read"'
            problems.append(Problem(where, record, "kind", f"unknown kind {quoted(kind)}; {hint}"))
        else:
            records.append(RawRecord(kind, Loc(where, record), data))
    return records, problems
