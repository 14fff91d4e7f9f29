"""Typed field access for one parsed record, collecting a Problem for every bad field.

No I/O: a `Fields` takes a mapping already parsed from YAML, JSON, a feed or a CSV row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from digest.errors import Problem
from digest.ingest.checks import (
    escape,
    quoted,
    suggest,
    text_problem,
    type_name,
    url_problem,
    when_problem,
)
from digest.ingest.limits import MAX_LIST, text_limit

Check = Callable[[str], str | None]
# A parsed record: YAML allows keys of any type, so they are not assumed to be text.
Record = Mapping[Any, object]
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


class Sink(Protocol):
    """Where problems go: a list, or anything that appends and counts like one."""

    def append(self, problem: Problem, /) -> None: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a record is: its file or URL, and its name in it ("items[3]", "line 7")."""

    where: str
    record: str

    def __str__(self) -> str:
        return ":".join(part for part in (self.where, self.record) if part)


def quote_hint(value: object) -> str:
    """What to do when a scalar came where text was expected (usually YAML being clever)."""
    if isinstance(value, bool):
        return "; put it in quotes (YAML reads yes, no, on and off as true and false)"
    if isinstance(value, int | float | date | datetime):
        return "; put it in quotes"
    return ""


class Fields:
    """Reads the fields of one record; each reader returns None (or a default) for a bad value.

    `missing` overrides the "missing" message per field (a feed names its XML element);
    `reported` names fields whose problems the reader has already reported.
    """

    def __init__(
        self,
        data: Record,
        loc: Loc,
        problems: Sink,
        *,
        noun: str,
        known: Collection[str],
        prefix: str = "",
        missing: Mapping[str, str] | None = None,
        reported: Collection[str] = (),
    ) -> None:
        self.data = data
        self.loc = loc
        self.problems = problems
        self.noun = noun
        self.prefix = prefix
        self.missing_hints = missing or {}
        self.reported = reported
        for key in data:
            if key not in known:
                self._unknown(key, known)

    def _unknown(self, key: object, known: Collection[str]) -> None:
        guess = suggest(key, known) if isinstance(key, str) else None
        name = escape(str(key))
        if guess:
            self.problem(name, f"unknown field; did you mean {guess}?")
        else:
            article = "an" if self.noun[0] in "aeiou" else "a"
            self.problem(name, f"unknown field; {article} {self.noun} has {', '.join(known)}")

    def problem(self, name: str, message: str) -> None:
        self.problems.append(self.problem_for(name, message))

    def problem_for(self, name: str, message: str) -> Problem:
        return Problem(self.loc.where, self.loc.record, self.prefix + name, message)

    def sub(self, data: Record, label: str, *, noun: str, known: Collection[str]) -> Fields:
        """The fields of a mapping inside this record, named "label.field"."""
        return Fields(
            data, self.loc, self.problems, noun=noun, known=known, prefix=f"{self.prefix}{label}."
        )

    def _absent(self, name: str, required: bool) -> None:
        if required and name not in self.reported:
            self.problem(
                name, self.missing_hints.get(name, f"missing; every {self.noun} needs one")
            )

    def text(self, name: str, *, required: bool = True, check: Check | None = None) -> str | None:
        """Text, stripped; empty text counts as absent."""
        value = self.data.get(name)
        if value is None:
            self._absent(name, required)
            return None
        return self._text_value(name, value, required=required, check=check)

    def text_value(self, name: str, value: object) -> str | None:
        """A required text that came as one entry of a list."""
        return self._text_value(name, value, required=True, check=None)

    def _text_value(
        self, name: str, value: object, *, required: bool, check: Check | None
    ) -> str | None:
        if not isinstance(value, str):
            self.problem(name, f"must be text, got {type_name(value)}{quote_hint(value)}")
            return None
        value = value.strip()
        if not value:
            if required:
                self.problem(name, f"empty; every {self.noun} needs one")
            return None
        problem = text_problem(value, text_limit(name)) or (check(value) if check else None)
        if problem:
            self.problem(name, problem)
            return None
        return value

    def url(self, name: str, *, required: bool = True) -> str | None:
        return self.text(name, required=required, check=url_problem)

    def text_list(
        self, name: str, *, required: bool = False, check: Check | None = None
    ) -> tuple[str, ...] | None:
        """A list of texts in input order; duplicates are a problem, never dropped."""
        value = self.data.get(name)
        if value is None:
            self._absent(name, required)
            return None if required else ()
        if not isinstance(value, list | tuple):
            example = f"[{quoted(value)}]" if isinstance(value, str) else '["…"]'
            self.problem(name, f"must be a list, got {type_name(value)}; write it as {example}")
            return None
        if required and not value:
            self.problem(name, f"empty; every {self.noun} needs at least one")
            return None
        if not self.short_enough(name, value):
            return None
        texts: list[str] = []
        first: dict[str, int] = {}
        ok = True
        for index, element in enumerate(value):
            label = f"{name}[{index}]"
            text = self._text_value(label, element, required=True, check=check)
            if text is None or not self.first_time(name, index, text, first):
                ok = False
                continue
            texts.append(text)
        return tuple(texts) if ok else None

    def first_time(self, name: str, index: int, text: str, first: dict[str, int]) -> bool:
        """Whether `text` is new in list `name` (noted in `first`); a repeat is a problem that
        names the first: duplicates are reported, never dropped."""
        if text in first:
            message = f"{quoted(text)} is listed twice (also {name}[{first[text]}]); drop one"
            self.problem(f"{name}[{index}]", message)
            return False
        first[text] = index
        return True

    def short_enough(self, name: str, value: list[object] | tuple[object, ...]) -> bool:
        if len(value) <= MAX_LIST:
            return True
        self.problem(name, f"too many entries: {len(value)}, at most {MAX_LIST}")
        return False

    def whole(
        self, name: str, low: int, high: int | None = None, *, default: int | None = None
    ) -> int | None:
        """A whole number in [low, high]; booleans are not numbers here."""
        value = self.data.get(name)
        if value is None:
            self._absent(name, default is None)
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            span = f"from {low} to {high}" if high is not None else f"of {low} or more"
            self.problem(name, f"must be a whole number {span}, got {quoted(value)}")
            return None
        return value

    def flag(self, name: str, *, default: bool) -> bool | None:
        """true/false; 1 and 0 too, as spreadsheets write them."""
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        self.problem(name, f"must be true or false (or yes/no, 1/0), got {quoted(value)}")
        return None

    def when(self, name: str) -> datetime | None:
        """A required timezone-aware date and time."""
        value = self.data.get(name)
        if value is None or value == "":
            self._absent(name, True)
            return None
        parsed, problem = when_problem(value)
        if problem:
            self.problem(name, problem)
        return parsed

    def mappings(self, name: str, *, hint: str = "") -> list[tuple[str, Record]] | None:
        """A list of mappings, labelled "name[i]"; None for a bad list (already reported)."""
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.problem(name, f"must be a list, got {type_name(value)}")
            return None
        if not self.short_enough(name, value):
            return None
        found: list[tuple[str, Record]] = []
        ok = True
        for index, element in enumerate(value):
            label = f"{name}[{index}]"
            if isinstance(element, Mapping):
                found.append((label, element))
            else:
                ok = False
                self.problem(label, f"must be a mapping, got {type_name(element)}{hint}")
        return found if ok else None
