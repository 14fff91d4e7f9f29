"""Parsed records → models, with every problem collected; cross-record checks included.

No I/O: readers hand over `RawRecord`s one at a time, `Checker` validates each as it comes and
keeps only what the checks across records need (keys and where they were first seen, topics);
the models go to a `Spool`. References may point forward (an item may name a company defined
later in the input): one that is unknown when its record is read waits in `Findings` until the
whole input has been read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from digest.errors import Problem
from digest.ingest.checks import (
    country_problem,
    hashtag_problem,
    quoted,
    region_problem,
    slug_problem,
    suggest,
    type_name,
)
from digest.ingest.fields import Fields, Loc, Record
from digest.ingest.limits import MAX_PROBLEMS, RATING, READ_MINUTES
from digest.ingest.spool import Spool
from digest.models import AmwRead, Company, NewsItem, ReadRef

if TYPE_CHECKING:
    from digest.ingest.feeds import FeedEntry

Kind = Literal["company", "item", "read"]
KINDS: tuple[Kind, ...] = ("company", "item", "read")

COMPANY_FIELDS = ("slug", "name", "sector", "country", "hashtag", "profile_url")
ITEM_FIELDS = (
    "id",
    "title",
    "summary",
    "url",
    "page_url",
    "published_at",
    "companies",
    "category",
    "topics",
    "countries",
    "region",
    "hashtags",
    "image_url",
    "read_minutes",
    "source",
)
READ_FIELDS = ("item", "text", "novelty", "significance", "refs", "social")
REF_FIELDS = ("ref", "label")
TOPIC_FIELDS = ("name", "hashtag")

# How records are named in each kind of source: "items[3]", "line 7", "entries[2]".
Naming = Literal["lists", "lines", "entries"]
LIST_NAMES: dict[Kind, str] = {"company": "companies", "item": "items", "read": "reads"}
# Unresolved references to items are looked up in the store once this many are waiting.
_LOOKUP_BATCH = 5_000

# Those of the given keys that exist (in the store): how references beyond the input resolve.
Lookup = Callable[[Collection[str]], Collection[str]]


@dataclass(frozen=True, slots=True)
class Batch:
    """Everything one `read_sources` call read, validated, in input order.

    `topics` holds the hashtags the input declared for topics; `warnings` what is worth
    saying but does not stop the ingest (a topic that is not on the controlled list).
    """

    companies: tuple[Company, ...] = ()
    items: tuple[NewsItem, ...] = ()
    reads: tuple[AmwRead, ...] = ()
    topics: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as parsed, before validation.

    `number` is its index in its list (or its line); `missing` words the "missing" problem per
    field; `found` holds problems the reader already found in the record (a feed's date, say):
    they are reported first and their fields skipped.
    """

    kind: Kind
    loc: Loc
    data: Record
    number: int = 0
    missing: Mapping[str, str] = field(default_factory=dict)
    found: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicRules:
    """The controlled list of topics: the store's and the settings' (see docs/input-format.md).

    A topic of an item that is not on it is a warning, or with `strict` an error. An empty
    list checks nothing unless strict: a new site has no list yet.
    """

    known: frozenset[str]
    strict: bool = False


def key_of(kind: Kind, data: Record) -> str | None:
    """The record's identity (slug, id, or read item) if it is usable text, else None."""
    name = {"company": "slug", "item": "id", "read": "item"}[kind]
    value = data.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


# --- problems, in input order -----------------------------------------------------------------


class Findings:
    """The problems of one read, in input order, at most MAX_PROBLEMS of them kept (all counted).

    Each problem is filed under the record being checked (`at`); a `defer`red problem holds only
    if no record of its kind and key turns up by the end.
    """

    def __init__(self) -> None:
        self._kept: list[tuple[int, int, Problem]] = []
        self._waiting: list[tuple[int, int, Problem, Kind, str]] = []
        self._order = 0
        self._seq = 0
        self.total = 0

    def next_record(self) -> int:
        """File what follows under a new record; returns its place in the input."""
        self._order += 1
        self._seq = 0
        return self._order

    @property
    def order(self) -> int:
        """The place of the record being checked."""
        return self._order

    def at(self, order: int) -> None:
        """File what follows under the record at `order` (one checked after its turn)."""
        self._order, self._seq = order, 0

    def _place(self) -> tuple[int, int]:
        self._seq += 1
        return self._order, self._seq

    def append(self, problem: Problem) -> None:
        self.total += 1
        self._kept.append((*self._place(), problem))
        if len(self._kept) > 2 * MAX_PROBLEMS:
            self._kept = sorted(self._kept, key=_place)[:MAX_PROBLEMS]

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.append(problem)

    def __len__(self) -> int:
        return self.total

    def defer(self, problem: Problem, kind: Kind, key: str) -> None:
        self._waiting.append((*self._place(), problem, kind, key))

    def waiting(self, kind: Kind) -> set[str]:
        return {key for *_, waiting_kind, key in self._waiting if waiting_kind == kind}

    def resolve(self, kind: Kind, found: Collection[str]) -> None:
        """Drop the deferred problems that a record of that kind and key answered."""
        self._waiting = [w for w in self._waiting if w[3] != kind or w[4] not in found]

    def forget_after(self, order: int) -> None:
        """Drop what was filed under records after `order` (a document that proved unreadable)."""
        kept = [entry for entry in self._kept if entry[0] <= order]
        self.total -= len(self._kept) - len(kept)
        self._kept = kept
        self._waiting = [entry for entry in self._waiting if entry[0] <= order]

    def settle(self) -> None:
        """What still waits at the end is a problem."""
        for order, seq, problem, _, _ in self._waiting:
            self.total += 1
            self._kept.append((order, seq, problem))
        self._waiting = []

    def problems(self) -> list[Problem]:
        kept = [problem for *_, problem in sorted(self._kept, key=_place)[:MAX_PROBLEMS]]
        if self.total > len(kept):
            more = self.total - len(kept)
            kept.append(
                Problem(
                    "", "", "", f"and {more} more problems; fix these and run again to see them"
                )
            )
        return kept


def _place(kept: tuple[int, int, Problem]) -> tuple[int, int]:
    return kept[0], kept[1]


# Says a problem stands unless a record of `kind` with `key` exists (in the input or the store).
Refer = Callable[[Kind, str, Problem], None]


# --- one record ---------------------------------------------------------------------------------


def _fields(
    record: RawRecord, problems: Findings | list[Problem], noun: str, known: tuple[str, ...]
) -> Fields:
    problems.extend(record.found)
    return Fields(
        record.data,
        record.loc,
        problems,  # type: ignore[arg-type]  # Findings has the list's append and len
        noun=noun,
        known=known,
        missing=record.missing,
        reported={problem.field for problem in record.found},
    )


def company_from(record: RawRecord, problems: Findings) -> Company | None:
    before = len(problems)
    f = _fields(record, problems, "company", COMPANY_FIELDS)
    slug = f.text("slug", check=slug_problem)
    name = f.text("name")
    sector = f.text("sector")
    country = f.text("country", check=country_problem)
    hashtag = f.text("hashtag", check=hashtag_problem)
    profile_url = f.url("profile_url", required=False)
    if len(problems) > before:
        return None
    assert slug and name and sector and country and hashtag
    return Company(slug, name, sector, country, hashtag, profile_url)


def item_from(
    record: RawRecord, problems: Findings, refer: Refer
) -> tuple[NewsItem | None, dict[str, str]]:
    """The item (None if it has problems), and the hashtags its topics declare."""
    before = len(problems)
    f = _fields(record, problems, "item", ITEM_FIELDS)
    item_id = f.text("id")
    title = f.text("title")
    summary = f.text("summary")
    url = f.url("url")
    page_url = f.url("page_url", required=False)
    published_at = f.when("published_at")
    slugs = f.text_list("companies", required=True, check=slug_problem)
    for slug in slugs or ():
        message = f"unknown company {quoted(slug)}; add it under companies: or ingest it first"
        refer("company", slug, f.problem_for("companies", message))
    category = f.text("category")
    topics, hashtags_of_topics = _topics(f)
    countries = f.text_list("countries", check=country_problem)
    region = f.text("region", required=False, check=region_problem)
    hashtags = f.text_list("hashtags", check=hashtag_problem)
    image_url = f.url("image_url", required=False)
    read_minutes = f.whole("read_minutes", *READ_MINUTES, default=1)
    source = f.text("source", required=False)
    if len(problems) > before:
        return None, {}
    assert item_id and title and summary and url and published_at and slugs and category
    assert topics is not None and countries is not None and hashtags is not None
    assert read_minutes is not None
    item = NewsItem(
        id=item_id,
        title=title,
        summary=summary,
        url=url,
        published_at=published_at,
        companies=slugs,
        category=category,
        topics=topics,
        countries=countries,
        region=region,
        hashtags=hashtags,
        image_url=image_url,
        read_minutes=read_minutes,
        source=source,
        page_url=page_url,
    )
    return item, hashtags_of_topics


def _topics(f: Fields) -> tuple[tuple[str, ...] | None, dict[str, str]]:
    """An item's topics: names, or {name, hashtag} mappings; duplicates are a problem."""
    value = f.data.get("topics")
    if value is None:
        return (), {}
    if not isinstance(value, list | tuple):
        example = f"[{quoted(value)}]" if isinstance(value, str) else '["…"]'
        f.problem("topics", f"must be a list, got {type_name(value)}; write it as {example}")
        return None, {}
    if not f.short_enough("topics", value):
        return None, {}
    names: list[str] = []
    hashtags: dict[str, str] = {}
    first: dict[str, int] = {}
    ok = True
    for index, element in enumerate(value):
        label = f"topics[{index}]"
        hashtag = None
        if isinstance(element, Mapping):
            sub = f.sub(element, label, noun="topic", known=TOPIC_FIELDS)
            name = sub.text("name")
            hashtag = sub.text("hashtag", required=False, check=hashtag_problem)
            ok = ok and name is not None and (hashtag is not None or "hashtag" not in element)
        else:
            name = f.text_value(label, element)
        if name is None or not f.first_time("topics", index, name, first):
            ok = False
            continue
        names.append(name)
        if hashtag is not None:
            hashtags[name] = hashtag
    return (tuple(names) if ok else None), hashtags


def read_from(record: RawRecord, problems: Findings, refer: Refer) -> AmwRead | None:
    before = len(problems)
    f = _fields(record, problems, "read", READ_FIELDS)
    item_id = f.text("item")
    if item_id is not None:
        message = f"unknown item {quoted(item_id)}; add it under items: or ingest it first"
        refer("item", item_id, f.problem_for("item", message))
    text = f.text("text")
    novelty = f.whole("novelty", *RATING)
    significance = f.whole("significance", *RATING)
    refs: list[ReadRef] = []
    hint = '; write it as {ref: "cross.§A", label: "…"} (label optional)'
    for label, data in f.mappings("refs", hint=hint) or ():
        sub = f.sub(data, label, noun="ref", known=REF_FIELDS)
        ref = sub.text("ref")
        if ref is not None:
            refs.append(ReadRef(ref, sub.text("label", required=False)))
    social = f.text("social", required=False)
    if len(problems) > before:
        return None
    assert item_id and text and novelty is not None and significance is not None
    return AmwRead(item_id, text, novelty, significance, tuple(refs), social)


# --- the whole input ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Source:
    where: str
    naming: Naming

    def label(self, kind: Kind, number: int) -> str:
        if self.naming == "lines":
            return f"line {number}"
        if self.naming == "entries":
            return f"entries[{number}]"
        return f"{LIST_NAMES[kind]}[{number}]"


@dataclass(slots=True)
class _Topic:
    order: int  # of the first item that names it
    where: int  # (source << 32) | number of that item
    index: int  # its place in that item's topics
    items: int = 0


class Checker:
    """Checks a whole input record by record, keeping only keys and where each was first seen.

    `known_companies` are the slugs in the store (few: all of them); `known_items` answers which
    of some ids are in the store, asked only for reads whose item is not in the input.
    """

    def __init__(
        self,
        spool: Spool,
        *,
        known_companies: Collection[str] = (),
        known_items: Lookup | None = None,
        topics: TopicRules | None = None,
    ) -> None:
        self.spool = spool
        self.findings = Findings()
        self.known_companies = frozenset(known_companies)
        self.known_items = known_items
        self.rules = topics
        self._sources: list[_Source] = []
        self._first: dict[Kind, dict[str, int]] = {kind: {} for kind in KINDS}
        self._topics: dict[str, _Topic] = {}
        self._hashtags: dict[str, tuple[str, int]] = {}  # topic → (hashtag, where declared)
        self._waiting_items = 0
        self._current = -1  # the index of the source being read
        self._source_start = 0  # the findings' order when it started
        self._entries: list[tuple[int, int, FeedEntry]] = []  # (order, source, entry)

    # --- sources and their records --------------------------------------------------------------

    def source(self, where: str, naming: Naming) -> None:
        self._sources.append(_Source(where, naming))
        self._current = len(self._sources) - 1
        self._source_start = self.findings.order

    def _here(self, number: int) -> int:
        """Where a record of the current source is, packed in one int: (source << 32) | number."""
        return (self._current << 32) | number

    def _label(self, kind: Kind, packed: int) -> str:
        source = self._sources[packed >> 32]
        return f"{source.where}:{source.label(kind, packed & 0xFFFFFFFF)}"

    def problem(self, problem: Problem) -> None:
        """A problem of the current source as a whole (or of its text)."""
        self.findings.next_record()
        self.findings.append(problem)

    def unreadable(self, problem: Problem) -> None:
        """The current source stopped being readable: only that problem is said about it."""
        self.findings.forget_after(self._source_start)
        self._entries = [entry for entry in self._entries if entry[1] != self._current]
        self.problem(problem)

    def register(self, kind: Kind, key: str | None, loc: Loc, number: int) -> None:
        """Note a record's key; a second record with the same key is a problem."""
        if key is None:
            return
        here = self._here(number)
        earlier = self._first[kind].setdefault(key, here)
        if earlier == here:
            return
        first_at = self._label(kind, earlier)
        if kind == "company":
            field_name, message = (
                "slug",
                f"duplicate company {quoted(key)}; the first is at {first_at}",
            )
        elif kind == "item":
            field_name, message = "id", f"duplicate id {quoted(key)}; the first is at {first_at}"
        else:
            field_name = "item"
            message = (
                f"a second read for item {quoted(key)}; the first is at {first_at} "
                "(an item has one AMW Read)"
            )
        self.findings.append(Problem(loc.where, loc.record, field_name, message))

    def record(self, raw: RawRecord, order: int | None = None) -> None:
        """Validate one record (`order`: its place, when it is checked after its turn)."""
        if order is None:
            self.findings.next_record()
            self.register(raw.kind, key_of(raw.kind, raw.data), raw.loc, raw.number)
        else:
            self.findings.at(order)
        if raw.kind == "company":
            company = company_from(raw, self.findings)
            if company:
                self.spool.add_company(company)
        elif raw.kind == "item":
            item, hashtags = item_from(raw, self.findings, self._refer)
            if item:
                self._note_topics(raw, item, hashtags)
                self.spool.add_item(item)
        else:
            read = read_from(raw, self.findings, self._refer)
            if read:
                self.spool.add_read(read)

    def entry(self, entry: FeedEntry) -> None:
        """A feed entry: its id counts now, its fields are checked once every company is known
        (its categories name companies and topics)."""
        order = self.findings.next_record()
        self.register("item", entry.key, entry.loc, entry.number)
        self._entries.append((order, self._current, entry))

    def _refer(self, kind: Kind, key: str, problem: Problem) -> None:
        if key in self._first[kind]:
            return
        if kind == "company" and key in self.known_companies:
            return
        self.findings.defer(problem, kind, key)
        if kind == "item":
            self._waiting_items += 1
            if self._waiting_items >= _LOOKUP_BATCH:
                self._look_up_items()

    def _look_up_items(self) -> None:
        self._waiting_items = 0
        waiting = self.findings.waiting("item") - self._first["item"].keys()
        if waiting and self.known_items is not None:
            self.findings.resolve("item", set(self.known_items(waiting)))

    def company_slugs(self) -> set[str]:
        """Every company slug known now: the store's and the input's."""
        return {*self.known_companies, *self._first["company"]}

    # --- topics ---------------------------------------------------------------------------------

    def _note_topics(self, raw: RawRecord, item: NewsItem, hashtags: Mapping[str, str]) -> None:
        where = self._here(raw.number)
        for index, name in enumerate(item.topics):
            topic = self._topics.get(name)
            if topic is None:
                topic = self._topics[name] = _Topic(self.findings.order, where, index)
            topic.items += 1
        for name, hashtag in hashtags.items():
            declared = self._hashtags.setdefault(name, (hashtag, where))
            if declared[0] != hashtag:
                first_at = self._label("item", declared[1])
                index = item.topics.index(name)
                message = (
                    f"{quoted(hashtag)} differs from {quoted(declared[0])}, declared for "
                    f"{quoted(name)} at {first_at}; give a topic one hashtag"
                )
                self.findings.append(
                    Problem(raw.loc.where, raw.loc.record, f"topics[{index}].hashtag", message)
                )

    def _check_topics(self) -> list[Problem]:
        """The item topics that are not on the controlled list: one warning (or error) each."""
        rules = self.rules
        if rules is None or (not rules.known and not rules.strict):
            return []
        found = []
        for name, topic in self._topics.items():
            if name in rules.known:
                continue
            source = self._sources[topic.where >> 32]
            record = source.label("item", topic.where & 0xFFFFFFFF)
            guess = suggest(name, rules.known)
            hint = (
                f"did you mean {quoted(guess)}?"
                if guess
                else "check the spelling, or declare it under digests.topics in settings.yaml"
            )
            items = "1 item" if topic.items == 1 else f"{topic.items} items"
            message = f"{quoted(name)} is not a known topic ({items}); {hint}"
            problem = Problem(source.where, record, f"topics[{topic.index}]", message)
            if rules.strict:
                self.findings.at(topic.order)
                self.findings.append(problem)
            else:
                found.append(problem)
        return found

    # --- the end --------------------------------------------------------------------------------

    def finish(self) -> tuple[list[Problem], list[Problem]]:
        """(problems, warnings) of the whole input, each in input order."""
        slugs = self.company_slugs()
        for order, source, entry in self._entries:
            self._current = source
            self.record(entry.record(slugs), order)
        self._entries = []
        self.findings.resolve("company", self._first["company"].keys())
        self.findings.resolve("item", self._first["item"].keys())
        self._look_up_items()
        self.findings.settle()
        warnings = self._check_topics()
        return self.findings.problems(), warnings

    @property
    def topic_hashtags(self) -> dict[str, str]:
        return {name: hashtag for name, (hashtag, _) in self._hashtags.items()}
