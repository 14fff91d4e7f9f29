"""A subscriber import between its check and its write: on disk, so memory stays flat.

`check_import` (in `digest.ingest.subscribers`) reads every row of every file once, keeps each
valid subscriber in a `Spool` (a temporary file of pickled batches) and what it has seen of
their ids and addresses in `Seen` (bits, not strings). The store then reads the spool back a
batch at a time, as often as it needs, to check and write in one transaction.
"""

from __future__ import annotations

import copyreg
import pickle
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from types import TracebackType
from typing import IO, Any

from digest.errors import Problem
from digest.ingest.checks import quoted
from digest.ingest.exports import address_id
from digest.ingest.fields import Loc
from digest.models import Consent, Preferences, Subscriber

BATCH = 5_000  # subscribers a batch: what is held in memory at once while writing
# The bits `Seen` keeps for each of ids and addresses: about one per byte of input, 16 MB at most.
MIN_BITS, MAX_BITS = 1 << 16, 1 << 27

# One valid row: its file and record, the subscriber, the consent times its export gave.
Entry = tuple[str, str, Subscriber, Consent | None]


def _by_constructor(model: type) -> Callable[[Any], tuple[type, tuple[object, ...]]]:
    names = [field.name for field in fields(model)]
    return lambda value: (model, tuple(getattr(value, name) for name in names))


# Models pickled as their constructor's arguments: pickle's default for a frozen dataclass with
# slots sets each field through Python code, which made reading a spool back slower than
# checking it.
_DISPATCH: dict[type, Any] = {
    **copyreg.dispatch_table,
    **{model: _by_constructor(model) for model in (Subscriber, Preferences, Consent)},
}


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
        if not stored:
            return self
        exported = set(self.exported())
        ids = {
            s.id: stored.get(s.email, s.id) if s.email in exported else s.id
            for s in self.subscribers
        }
        return SubscriberList(
            tuple(replace(s, id=ids[s.id]) for s in self.subscribers),
            {ids[old]: consent for old, consent in self.consents.items()},
        )


class Spool:
    """Valid rows appended in input order, read back as often as needed (close when done)."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - see close
        self._pending: list[Entry] = []
        self._batches = 0

    def add(self, loc: Loc, subscriber: Subscriber, consent: Consent | None) -> None:
        self._pending.append((loc.where, loc.record, subscriber, consent))
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            pickler = pickle.Pickler(self._file, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.dispatch_table = _DISPATCH
            pickler.dump(self._pending)
            self._batches += 1
            self._pending = []

    def _entries(self) -> Iterator[list[Entry]]:
        self._flush()
        self._file.seek(0)
        for _ in range(self._batches):
            # Only this process wrote the file, from validated models.
            yield pickle.load(self._file)

    def entries(self) -> Iterator[Entry]:
        for batch in self._entries():
            yield from batch

    def batches(
        self, stored_ids: Callable[[list[str]], Mapping[str, str]] | None = None
    ) -> Iterator[SubscriberList]:
        """The subscribers a batch at a time; with `stored_ids` (the store's {address: id} of
        the addresses it is given), each batch `known_as` the ids stored for its addresses."""
        for batch in self._entries():
            read = SubscriberList(
                tuple(subscriber for _, _, subscriber, _ in batch),
                {s.id: consent for _, _, s, consent in batch if consent is not None},
            )
            exported = read.exported() if stored_ids else []
            yield read.known_as(stored_ids(exported)) if exported and stored_ids else read

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Seen:
    """The ids and addresses (case-insensitively) of the valid rows so far, for duplicates.

    Each is one bit at its hash in a bitmap (see MAX_BITS), where a set of a million strings
    would take hundreds of MB. A row whose bit is set already may
    repeat an earlier one, or share its bit by chance (under 1% of rows); `problems` tells the
    two apart by reading the spool once more for those values only.
    """

    def __init__(self, input_bytes: int) -> None:
        bits = min(max(1 << (input_bytes * 8).bit_length(), MIN_BITS), MAX_BITS)
        self._mask = bits - 1
        self._ids = bytearray(bits >> 3)
        self._emails = bytearray(bits >> 3)
        # (where its problem goes in the list, field, value, its row, its address)
        self._maybe: list[tuple[int, str, str, Loc, str]] = []

    def add(self, subscriber: Subscriber, loc: Loc, at: int) -> None:
        """A valid row; `at`: how many problems were found before it."""
        for field, value, bitmap in (
            ("id", subscriber.id, self._ids),
            ("email", subscriber.email.casefold(), self._emails),
        ):
            bit = hash(value) & self._mask
            byte, flag = bit >> 3, 1 << (bit & 7)
            if bitmap[byte] & flag:
                self._maybe.append((at, field, value, loc, subscriber.email))
            else:
                bitmap[byte] |= flag

    def problems(self, problems: list[Problem], spool: Spool) -> list[Problem]:
        """`problems` with those of each repeated id or address at its row's place."""
        if not self._maybe:
            return problems
        wanted = {(field, value) for _, field, value, _, _ in self._maybe}
        first: dict[tuple[str, str], Loc] = {}
        for where, record, subscriber, _ in spool.entries():
            for key in (("id", subscriber.id), ("email", subscriber.email.casefold())):
                if key in wanted and key not in first:
                    first[key] = Loc(where, record)
        merged: list[Problem] = []
        start = 0
        for at, field, value, loc, email in self._maybe:
            earlier = first[field, value]
            if earlier == loc:
                continue  # its bit was another value's
            where = earlier.record if earlier.where == loc.where else str(earlier)
            if field == "id":
                message = f"duplicate id {quoted(value)}; the first is at {where}"
            else:
                message = f"{quoted(email)} is already at {where}; keep one row per address"
            merged.extend(problems[start:at])
            start = at
            merged.append(Problem(loc.where, loc.record, field, message))
        merged.extend(problems[start:])
        return merged
