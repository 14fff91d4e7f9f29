"""An editor's changes to a digest: a small typed change set, applied by pure functions.

A change set names items by id and never copies their content, so it applies again to a digest
composed after new items arrived: what still applies is applied, what no longer does (an item
that left the week, a drop of an item the ranking no longer picks) is reported as stale, never
an error. Render never sees a change set, only the edited `Digest`.

The order of application: additions, drops, moves to another section, the editor's order within
each section, then pins (pinned items lead their sections, and their sections lead the digest, in
the order they were pinned), so the first pinned item opens the email.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any

from digest.compose.connections import Lookback
from digest.compose.weekly import main_topic, make_entry
from digest.models import AmwRead, Company, Digest, DigestKind, Entry, NewsItem, Section

MAX_NOTE = 5000  # characters of Markdown: a note opens an email, it is not an article
MAX_LINE = 200  # characters of a subject or a preheader


@dataclass(frozen=True, slots=True)
class ChangeSet:
    pins: tuple[str, ...] = ()  # item ids pinned to the top, first pinned first
    drops: tuple[str, ...] = ()  # item ids left out
    additions: tuple[str, ...] = ()  # item ids the ranking left out, added by the editor
    moves: tuple[tuple[str, str], ...] = ()  # (item id, section title) it was moved to
    order: tuple[str, ...] = ()  # the editor's order of items, within their sections
    note: str = ""  # Markdown
    subject: str | None = None  # None: the default subject line
    preheader: str | None = None  # None: the default inbox preview line

    @property
    def empty(self) -> bool:
        return self == ChangeSet()

    @property
    def arranges(self) -> bool:
        """Whether it changes which entries the digest holds, or their order."""
        return bool(self.pins or self.drops or self.additions or self.moves or self.order)

    # Each operation returns a new change set; the web app stores it as the digest's edits.

    def pin(self, item_id: str) -> ChangeSet:
        return replace(self, pins=(*_without(self.pins, item_id), item_id))

    def unpin(self, item_id: str) -> ChangeSet:
        return replace(self, pins=_without(self.pins, item_id))

    def drop(self, item_id: str) -> ChangeSet:
        """Leave the item out; an item the editor added is simply no longer added."""
        if item_id in self.additions:
            return replace(
                self,
                additions=_without(self.additions, item_id),
                pins=_without(self.pins, item_id),
            )
        return replace(
            self, drops=(*_without(self.drops, item_id), item_id), pins=_without(self.pins, item_id)
        )

    def restore(self, item_id: str) -> ChangeSet:
        return replace(self, drops=_without(self.drops, item_id))

    def add(self, item_id: str) -> ChangeSet:
        return replace(
            self,
            additions=(*_without(self.additions, item_id), item_id),
            drops=_without(self.drops, item_id),
        )

    def move_to(self, item_id: str, section: str) -> ChangeSet:
        moves = tuple(move for move in self.moves if move[0] != item_id)
        return replace(self, moves=(*moves, (item_id, _one_line(section, MAX_LINE))))

    def reorder(self, edited: Digest, item_id: str, step: int) -> ChangeSet:
        """Move the item `step` places (-1 up, +1 down) within its section of `edited` (the
        digest as these changes made it), never above the pinned items that lead it."""
        for section in edited.sections:
            ids = [entry.item.id for entry in section.entries]
            if item_id not in ids:
                continue
            index = ids.index(item_id)
            target = index + step
            pinned = sum(1 for entry_id in ids if entry_id in self.pins)
            if item_id in self.pins or not pinned <= target < len(ids):
                return self
            ids[index], ids[target] = ids[target], ids[index]
            others = [entry_id for entry_id in self.order if entry_id not in ids]
            return replace(self, order=(*others, *ids))
        return self

    def forget(self, stale: StaleEdit) -> ChangeSet:
        """Drop an edit that no longer applies."""
        item_id = stale.item_id
        if stale.kind == "pin":
            return self.unpin(item_id)
        if stale.kind == "drop":
            return self.restore(item_id)
        if stale.kind == "addition":
            return replace(self, additions=_without(self.additions, item_id))
        return replace(self, moves=tuple(move for move in self.moves if move[0] != item_id))

    def with_text(
        self, *, note: str | None = None, subject: str | None = None, preheader: str | None = None
    ) -> ChangeSet:
        """The note (Markdown, kept as typed but cut to MAX_NOTE) and the subject and preheader
        (one line each; empty means the default)."""
        return replace(
            self,
            note=self.note if note is None else note.replace("\r\n", "\n").strip()[:MAX_NOTE],
            subject=self.subject if subject is None else _one_line(subject, MAX_LINE) or None,
            preheader=(
                self.preheader if preheader is None else _one_line(preheader, MAX_LINE) or None
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pins": list(self.pins),
            "drops": list(self.drops),
            "additions": list(self.additions),
            "moves": [list(move) for move in self.moves],
            "order": list(self.order),
            "note": self.note,
            "subject": self.subject,
            "preheader": self.preheader,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeSet:
        return cls(
            pins=tuple(str(i) for i in data.get("pins", ())),
            drops=tuple(str(i) for i in data.get("drops", ())),
            additions=tuple(str(i) for i in data.get("additions", ())),
            moves=tuple((str(item), str(title)) for item, title in data.get("moves", ())),
            order=tuple(str(i) for i in data.get("order", ())),
            note=str(data.get("note") or ""),
            subject=data.get("subject"),
            preheader=data.get("preheader"),
        )


@dataclass(frozen=True, slots=True)
class StaleEdit:
    """An edit that no longer applies to the digest as composed now, and why."""

    kind: str  # "pin" | "drop" | "addition" | "move"
    item_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Edited:
    digest: Digest
    stale: tuple[StaleEdit, ...] = field(default=())


def apply_edits(digest: Digest, changes: ChangeSet, added: Mapping[str, Entry]) -> Edited:
    """`digest` with `changes` applied; `added` holds the entries the additions may bring in
    (those of the digest's own window: an addition not in it is stale)."""
    stale: list[StaleEdit] = []
    sections: dict[str, list[Entry]] = {s.title: list(s.entries) for s in digest.sections}
    present = {entry.item.id for entry in digest.entries}

    for item_id in changes.additions:
        if item_id in present:
            stale.append(StaleEdit("addition", item_id, "the ranking now picks it by itself"))
        elif item_id not in added:
            stale.append(StaleEdit("addition", item_id, "no longer among this week's items"))
        else:
            entry = added[item_id]
            sections.setdefault(_home_section(digest, entry), []).append(entry)
            present.add(item_id)

    dropped = set(changes.drops)
    for item_id in changes.drops:
        if item_id not in present:
            stale.append(StaleEdit("drop", item_id, "the digest no longer has it"))
    sections = {
        title: [entry for entry in entries if entry.item.id not in dropped]
        for title, entries in sections.items()
    }
    present -= dropped

    for item_id, title in changes.moves:
        if item_id not in present:
            stale.append(StaleEdit("move", item_id, "the digest no longer has it"))
            continue
        entry = next(e for entries in sections.values() for e in entries if e.item.id == item_id)
        for entries in sections.values():
            if entry in entries:
                entries.remove(entry)
        sections.setdefault(title, []).append(entry)

    rank = {item_id: index for index, item_id in enumerate(changes.order)}
    sections = {title: _in_order(entries, rank) for title, entries in sections.items()}

    pin_rank = {item_id: index for index, item_id in enumerate(changes.pins)}
    for item_id in changes.pins:
        if item_id not in present:
            stale.append(StaleEdit("pin", item_id, "the digest no longer has it"))
    for title, entries in sections.items():
        pinned = sorted((e for e in entries if e.item.id in pin_rank), key=_by(pin_rank))
        sections[title] = [*pinned, *(e for e in entries if e.item.id not in pin_rank)]
    titles = list(sections)
    leading = sorted(
        (t for t in titles if sections[t] and sections[t][0].item.id in pin_rank),
        key=lambda t: pin_rank[sections[t][0].item.id],
    )
    ordered = [*leading, *(t for t in titles if t not in leading)]

    edited = replace(
        digest,
        sections=tuple(Section(t, tuple(sections[t])) for t in ordered if sections[t]),
        note=changes.note,
        subject=changes.subject,
        preheader=changes.preheader,
        # What the editor left out stays out of every subscriber's weekly; what they added is
        # in the digest itself now.
        company_entries=tuple(
            entry
            for entry in digest.company_entries
            if entry.item.id not in present and entry.item.id not in dropped
        ),
    )
    return Edited(edited, tuple(stale))


def edit_digest(
    digest: Digest,
    changes: ChangeSet,
    items: Sequence[NewsItem],
    reads: Mapping[str, AmwRead],
    companies: Mapping[str, Company],
    *,
    connections: int = 0,
) -> Edited:
    """`apply_edits` with the added entries made from `items` (the ones composing `digest`
    had): an addition must be published in the digest's window. A company digest whose entries
    the edits changed gets its timelines drawn again, as composing draws them: an added item
    gets its own, neither an item of the email nor a dropped one is listed, and the edited
    order decides which entry lists an item two of them connect to."""
    wanted = set(changes.additions)
    added = {
        item.id: make_entry(item, reads, companies)
        for item in items
        if item.id in wanted and digest.window_start <= item.published_at < digest.window_end
    }
    edited = apply_edits(digest, changes, added)
    if not connections or not changes.arranges:
        return edited
    lookback = Lookback(items, reads, companies, digest.window_end.tzinfo or UTC)
    connected = lookback.connect(edited.digest, limit=connections, leave_out=changes.drops)
    return replace(edited, digest=connected)


def _home_section(digest: Digest, entry: Entry) -> str:
    """Where an added item goes: its main topic's section in a weekly digest, the company
    digest's first section otherwise."""
    if digest.kind is DigestKind.WEEKLY or not digest.sections:
        return main_topic(entry.item)
    return digest.sections[0].title


def _in_order(entries: list[Entry], rank: Mapping[str, int]) -> list[Entry]:
    """Entries the editor ordered take the places such entries hold, in the editor's order;
    the others (new since) keep theirs."""
    known = sorted((e for e in entries if e.item.id in rank), key=_by(rank))
    places = iter(known)
    return [next(places) if e.item.id in rank else e for e in entries]


def _by(rank: Mapping[str, int]) -> Any:
    return lambda entry: rank[entry.item.id]


def _without(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value)


def _one_line(value: str, limit: int) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())[:limit]
