"""YAML read as a stream of events, one record at a time, through libyaml when it is there.

PyYAML's loaders build the whole document (and a node for every value) before handing anything
over: 2.8 GB for 100,000 items. Here libyaml's parser (`CParser`; PyYAML's pure-Python parser
where libyaml is missing) yields events, and `Builder` turns the events of one value into plain
Python values directly, with the same safety as `yaml.SafeLoader`: only the standard tags, no
object is ever constructed from a tag. It also keeps the limits of `limits.py`: nesting depth,
values per record once aliases are expanded (no "billion laughs"), anchors per document; keys
must be plain values, never repeated; a plain scalar that looks like a number or a date but is
not a usable one (a 5,000-digit integer, month 13) stays text, for validation to explain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from digest.ingest.checks import LongNumber, quoted
from digest.ingest.limits import MAX_DEPTH, MAX_DIGITS, MAX_VALUES

try:
    from yaml._yaml import CParser as _Parser

    LIBYAML = True
except ImportError:  # PyYAML built without libyaml: the same events, from pure Python

    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, stream: IO[bytes]) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)

    LIBYAML = False

MAX_ANCHORS = 1_000  # per document; each anchored value is kept until the document ends

_TAG = "tag:yaml.org,2002:"
STR, MAP, SEQ, MERGE = (f"{_TAG}{name}" for name in ("str", "map", "seq", "merge"))
_SCALARS = {f"{_TAG}{name}" for name in ("int", "float", "bool", "null", "timestamp")}
# "=" resolves to the "value" tag, which SafeLoader cannot construct: it is text here.
_TEXT_TAGS = {STR, "!", f"{_TAG}value"}
_RESOLVERS: dict[str | None, list[tuple[str, re.Pattern[str]]]] = Resolver.yaml_implicit_resolvers


class Refused(Exception):
    """A document that is not YAML, or not within the limits: the problem and where it is."""

    def __init__(self, message: str, mark: Mark | None, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = mark.line + 1 if mark is not None else None
        self.offset = offset  # of the first byte that is not UTF-8, for the caller to count lines


class Builder:
    """Plain values from the events of one YAML stream (a document with lists of records)."""

    def __init__(self, stream: IO[bytes]) -> None:
        try:
            self._events = _Parser(stream)
        except yaml.YAMLError as error:  # the pure-Python reader decodes its first bytes here
            raise _refusal(error) from None
        self._constructor = SafeConstructor()
        self._anchors: dict[str, tuple[object, int]] = {}
        self._budget = MAX_VALUES

    # --- events ---------------------------------------------------------------------------------

    def next(self) -> Event:
        try:
            return self._events.get_event()
        except yaml.YAMLError as error:
            raise _refusal(error) from None

    def peek(self) -> Event:
        try:
            return self._events.peek_event()
        except yaml.YAMLError as error:
            raise _refusal(error) from None

    def close(self) -> None:
        dispose = getattr(self._events, "dispose", None)
        if dispose is not None:
            dispose()

    # --- values ---------------------------------------------------------------------------------

    def value(self, budget: int = MAX_VALUES) -> object:
        """The next value of the stream, as a whole, holding at most `budget` values."""
        self._budget = budget
        return self._value(self.next(), 1)[0]

    def _value(self, event: Event, depth: int) -> tuple[object, int]:
        """The value that starts with `event`, and how many values it holds (aliases expanded)."""
        if isinstance(event, AliasEvent):
            if event.anchor not in self._anchors:
                raise Refused(f"found undefined alias *{event.anchor}", event.start_mark)
            value, size = self._anchors[event.anchor]
            self._spend(size, event)
            return value, size
        if depth > MAX_DEPTH:
            raise Refused(
                f"nested deeper than {MAX_DEPTH} levels of lists and mappings", event.start_mark
            )
        if isinstance(event, ScalarEvent):
            self._spend(1, event)
            result: tuple[object, int] = (self._scalar(event), 1)
        elif isinstance(event, SequenceStartEvent):
            self._collection_tag(event, SEQ)
            result = self._sequence(depth)
        elif isinstance(event, MappingStartEvent):
            self._collection_tag(event, MAP)
            result = self._mapping(depth)
        else:
            raise Refused(f"unexpected {type(event).__name__}", event.start_mark)
        anchor = event.anchor if isinstance(event, NodeEvent) else None
        if anchor is not None:
            if anchor not in self._anchors and len(self._anchors) >= MAX_ANCHORS:
                raise Refused(
                    f"more than {MAX_ANCHORS} anchors (&name) in one document", event.start_mark
                )
            self._anchors[anchor] = result
        return result

    def _spend(self, size: int, event: Event) -> None:
        self._budget -= size
        if self._budget < 0:
            raise Refused(
                f"more than {MAX_VALUES} values in one record once its aliases are expanded; "
                "write the values out instead of repeating aliases",
                event.start_mark,
            )

    def _sequence(self, depth: int) -> tuple[list[object], int]:
        values: list[object] = []
        size = 1
        while not isinstance(event := self.next(), SequenceEndEvent):
            value, count = self._value(event, depth + 1)
            values.append(value)
            size += count
        return values, size

    def _mapping(self, depth: int) -> tuple[dict[Any, object], int]:
        explicit: dict[Any, object] = {}
        lines: dict[Any, int] = {}
        merged: list[dict[Any, object]] = []
        size = 1
        while not isinstance(event := self.next(), MappingEndEvent):
            merge = _is_merge(event)
            key = None if merge else self._key(event, depth + 1, lines)
            value, count = self._value(self.next(), depth + 1)
            size += count
            if merge:
                merged.extend(_merge_sources(value, event))
            else:
                explicit[key] = value
        if not merged:
            return explicit, size
        # As SafeLoader merges: the first merged mapping wins over later ones, keys of the
        # mapping itself over all of them.
        result: dict[Any, object] = {}
        for source in reversed(merged):
            result.update(source)
        result.update(explicit)
        return result, size

    def _key(self, event: Event, depth: int, lines: dict[Any, int]) -> object:
        """A mapping's key: a plain value, not seen before in that mapping."""
        key, _ = self._value(event, depth)
        if isinstance(key, list | dict):
            message = "a mapping key must be a plain value, not a list or a mapping"
            raise Refused(message, event.start_mark)
        if key in lines:
            first = lines[key]
            message = (
                f"not valid YAML: duplicate key {quoted(key)} (first on line {first}); keep one"
            )
            raise Refused(message, event.start_mark)
        lines[key] = event.start_mark.line + 1
        return key

    def _collection_tag(self, event: SequenceStartEvent | MappingStartEvent, expected: str) -> None:
        if event.tag not in (None, "!", expected):
            raise Refused(f"the tag {event.tag} is not allowed here; remove it", event.start_mark)

    def _scalar(self, event: ScalarEvent) -> object:
        value: str = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if tag == "!" or not event.implicit[0]:
                return value  # quoted, or marked as text
            tag = _plain_tag(value)
        if tag in _TEXT_TAGS:
            return value
        if tag not in _SCALARS:
            raise Refused(f"the tag {tag} is not allowed; remove it", event.start_mark)
        if tag.endswith(":int") and len(value) > MAX_DIGITS:
            return LongNumber(value)
        construct = self._constructor.yaml_constructors[tag]
        try:
            return construct(self._constructor, ScalarNode(tag, value))
        except (ValueError, OverflowError, AttributeError, yaml.constructor.ConstructorError):
            if event.tag is not None:
                kind = tag.rsplit(":", 1)[1]
                raise Refused(f"{quoted(value)} is not a valid {kind}", event.start_mark) from None
            return value  # looked like a date or a number but is none: validation says why

    # --- the document's outline -----------------------------------------------------------------

    def start(self) -> Event:
        """Past the stream's and document's start: the first event of the root value."""
        event = self.next()
        if isinstance(event, StreamStartEvent):
            event = self.next()
        if isinstance(event, StreamEndEvent):
            return event
        if isinstance(event, DocumentStartEvent):
            event = self.peek()
        return event

    def end(self) -> None:
        """The document ends here: anything after it is a second document."""
        event = self.next()
        if isinstance(event, DocumentEndEvent):
            event = self.next()
        if not isinstance(event, StreamEndEvent):
            raise Refused(
                "not valid YAML: expected a single document in the stream (a second one starts "
                "here, after ---); keep one",
                event.start_mark,
            )

    def entries(self) -> Iterator[tuple[object, Event]]:
        """The keys of the root mapping, each with the first event of its value (unread)."""
        self.next()  # the root MappingStartEvent
        lines: dict[Any, int] = {}
        while not isinstance(event := self.next(), MappingEndEvent):
            self._budget = MAX_VALUES
            yield self._key(event, 2, lines), self.peek()

    def elements(self) -> Iterator[object]:
        """The elements of the sequence that starts at the next event, one by one."""
        self.next()  # its SequenceStartEvent
        while not isinstance(self.peek(), SequenceEndEvent):
            self._budget = MAX_VALUES
            yield self._value(self.next(), 3)[0]
        self.next()


def _plain_tag(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar (as `Resolver.resolve` does, without a node)."""
    candidates = _RESOLVERS.get(value[0] if value else "", [])
    for tag, pattern in [*candidates, *_RESOLVERS.get(None, [])]:
        if pattern.match(value):
            return tag
    return STR


def _is_merge(event: Event) -> bool:
    return (
        isinstance(event, ScalarEvent)
        and event.value == "<<"
        and (event.tag == MERGE or (event.tag is None and event.implicit[0]))
    )


def _merge_sources(value: object, event: Event) -> list[dict[Any, object]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(source, dict) for source in value):
        return list(value)
    raise Refused("a merge (<<) takes a mapping or a list of mappings", event.start_mark)


def _refusal(error: yaml.YAMLError) -> Refused:
    if isinstance(error, yaml.reader.ReaderError):
        return Refused("not UTF-8 text; save the file as UTF-8", None, offset=error.position)
    if not isinstance(error, yaml.MarkedYAMLError):
        return Refused(f"not valid YAML: {error}", None)
    reason = error.problem or str(error)
    detail = f"{reason} ({error.context})" if error.context else reason
    return Refused(f"not valid YAML: {detail}", error.problem_mark)


__all__ = ["LIBYAML", "Builder", "Refused"]
