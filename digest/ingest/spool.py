"""Validated records kept in temporary files between the check and the write.

An input is checked whole before anything is written; holding its models in memory would make
memory grow with the input (a million lines of JSON Lines). Each kind goes to its own anonymous
temporary file as one JSON line per model (the store's codec), and is read back in input order,
companies first, for the write.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

from digest.models import AmwRead, Company, NewsItem
from digest.store import codec

_T = TypeVar("_T")


class Spool:
    """Companies, items and reads, appended one at a time and read back as often as needed."""

    def __init__(self) -> None:
        self._files: dict[str, IO[bytes]] = {}
        self.counts = {"companies": 0, "items": 0, "reads": 0}

    def _add(self, kind: str, data: dict[str, Any]) -> None:
        file = self._files.get(kind)
        if file is None:
            file = self._files[kind] = tempfile.TemporaryFile()  # noqa: SIM115 - see close
        file.write(json.dumps(data, ensure_ascii=False).encode("utf-8"))
        file.write(b"\n")
        self.counts[kind] += 1

    def add_company(self, company: Company) -> None:
        self._add("companies", codec.company_to_dict(company))

    def add_item(self, item: NewsItem) -> None:
        self._add("items", codec.item_to_dict(item))

    def add_read(self, read: AmwRead) -> None:
        self._add("reads", codec.read_to_dict(read))

    def _read(self, kind: str, model: Callable[[dict[str, Any]], _T]) -> Iterator[_T]:
        file = self._files.get(kind)
        if file is None:
            return
        file.flush()
        file.seek(0)
        for line in file:
            yield model(json.loads(line))
        file.seek(0, 2)  # further adds go to the end

    def companies(self) -> Iterator[Company]:
        return self._read("companies", codec.company_from_dict)

    def items(self) -> Iterator[NewsItem]:
        return self._read("items", codec.item_from_dict)

    def reads(self) -> Iterator[AmwRead]:
        return self._read("reads", codec.read_from_dict)

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files.clear()
