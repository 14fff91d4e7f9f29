"""Parsed records → models, with every problem collected; cross-record checks included.

No I/O: readers hand over `RawRecord`s, this returns a `Batch` and the problems found.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from digest.errors import Problem
from digest.ingest.checks import (
    country_problem,
    hashtag_problem,
    quoted,
    region_problem,
    slug_problem,
)
from digest.ingest.fields import Fields, Loc, Record
from digest.models import AmwRead, Company, NewsItem, ReadRef

Kind = Literal["company", "item", "read"]
KINDS: tuple[Kind, ...] = ("company", "item", "read")

COMPANY_FIELDS = ("slug", "name", "sector", "country", "hashtag", "profile_url")
ITEM_FIELDS = (
    "id",
    "title",
    "summary",
    "url",
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
READ_FIELDS = ("item", "text", "novelty", "significance", "refs")
REF_FIELDS = ("ref", "label")


@dataclass(frozen=True, slots=True)
class Batch:
    """Everything one `read_sources` call read, validated, in input order."""

    companies: tuple[Company, ...] = ()
    items: tuple[NewsItem, ...] = ()
    reads: tuple[AmwRead, ...] = ()


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as parsed, before validation.

    `missing` words the "missing" problem per field; `found` holds problems the reader already
    found in the record (a feed's date, say): they are reported first and their fields skipped.
    """

    kind: Kind
    loc: Loc
    data: Record
    missing: Mapping[str, str] = field(default_factory=dict)
    found: tuple[Problem, ...] = ()


def key_of(record: RawRecord) -> str | None:
    """The record's identity (slug, id, or read item) if it is usable text, else None."""
    name = {"company": "slug", "item": "id", "read": "item"}[record.kind]
    value = record.data.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def _fields(
    record: RawRecord, problems: list[Problem], noun: str, known: tuple[str, ...]
) -> Fields:
    problems.extend(record.found)
    return Fields(
        record.data,
        record.loc,
        problems,
        noun=noun,
        known=known,
        missing=record.missing,
        reported={problem.field for problem in record.found},
    )


def company_from(record: RawRecord, problems: list[Problem]) -> Company | None:
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
    record: RawRecord, problems: list[Problem], companies: Collection[str]
) -> NewsItem | None:
    before = len(problems)
    f = _fields(record, problems, "item", ITEM_FIELDS)
    item_id = f.text("id")
    title = f.text("title")
    summary = f.text("summary")
    url = f.url("url")
    published_at = f.when("published_at")
    slugs = f.text_list("companies", required=True, check=slug_problem)
    for slug in slugs or ():
        if slug not in companies:
            f.problem(
                "companies",
                f"unknown company {quoted(slug)}; add it under companies: or ingest it first",
            )
    category = f.text("category")
    topics = f.text_list("topics")
    countries = f.text_list("countries", check=country_problem)
    region = f.text("region", required=False, check=region_problem)
    hashtags = f.text_list("hashtags", check=hashtag_problem)
    image_url = f.url("image_url", required=False)
    read_minutes = f.whole("read_minutes", 1, default=1)
    source = f.text("source", required=False)
    if len(problems) > before:
        return None
    assert item_id and title and summary and url and published_at and slugs and category
    assert topics is not None and countries is not None and hashtags is not None
    assert read_minutes is not None
    return NewsItem(
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
    )


def read_from(record: RawRecord, problems: list[Problem], items: Collection[str]) -> AmwRead | None:
    before = len(problems)
    f = _fields(record, problems, "read", READ_FIELDS)
    item_id = f.text("item")
    if item_id is not None and item_id not in items:
        f.problem("item", f"unknown item {quoted(item_id)}; add it under items: or ingest it first")
    text = f.text("text")
    novelty = f.whole("novelty", 1, 5)
    significance = f.whole("significance", 1, 5)
    refs: list[ReadRef] = []
    hint = '; write it as {ref: "cross.§A", label: "…"} (label optional)'
    for label, data in f.mappings("refs", hint=hint) or ():
        sub = Fields(data, record.loc, problems, noun="ref", known=REF_FIELDS, prefix=f"{label}.")
        ref = sub.text("ref")
        if ref is not None:
            refs.append(ReadRef(ref, sub.text("label", required=False)))
    if len(problems) > before:
        return None
    assert item_id and text and novelty is not None and significance is not None
    return AmwRead(item_id, text, novelty, significance, tuple(refs))


def validate(
    records: Iterable[RawRecord],
    problems: list[Problem],
    *,
    known_companies: Collection[str] = (),
    known_items: Collection[str] = (),
) -> Batch:
    """Validate all records in order; append a Problem for each fault to `problems`.

    References may point forward: an item may name a company defined later in the input.
    """
    records = list(records)
    keys = [key_of(record) for record in records]
    company_slugs = {k for r, k in zip(records, keys, strict=True) if r.kind == "company" and k}
    item_ids = {k for r, k in zip(records, keys, strict=True) if r.kind == "item" and k}
    company_slugs.update(known_companies)
    item_ids.update(known_items)

    companies: list[Company] = []
    items: list[NewsItem] = []
    reads: list[AmwRead] = []
    first: dict[tuple[Kind, str], Loc] = {}
    for record, key in zip(records, keys, strict=True):
        if record.kind == "company":
            company = company_from(record, problems)
            if company:
                companies.append(company)
        elif record.kind == "item":
            item = item_from(record, problems, company_slugs)
            if item:
                items.append(item)
        else:
            read = read_from(record, problems, item_ids)
            if read:
                reads.append(read)
        if key is not None:
            _check_unique(record, key, first, problems)
    return Batch(tuple(companies), tuple(items), tuple(reads))


def _check_unique(
    record: RawRecord, key: str, first: dict[tuple[Kind, str], Loc], problems: list[Problem]
) -> None:
    earlier = first.setdefault((record.kind, key), record.loc)
    if earlier is record.loc:
        return
    loc = record.loc
    if record.kind == "company":
        message = f"duplicate company {quoted(key)}; the first is at {earlier}"
        problems.append(Problem(loc.where, loc.record, "slug", message))
    elif record.kind == "item":
        message = f"duplicate id {quoted(key)}; the first is at {earlier}"
        problems.append(Problem(loc.where, loc.record, "id", message))
    else:
        message = (
            f"a second read for item {quoted(key)}; the first is at {earlier} "
            "(an item has one AMW Read)"
        )
        problems.append(Problem(loc.where, loc.record, "item", message))
