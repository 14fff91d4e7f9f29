"""`read_sources`: every source read, every record validated, one Batch or one InputError."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence

import httpx

from digest.errors import InputError, Problem, ServiceError
from digest.ingest.documents import parse_document, parse_jsonl
from digest.ingest.feeds import FeedEntry, parse_feed
from digest.ingest.fetch import Loaded, Unreachable, fetch, is_url, new_client, read_file
from digest.ingest.validate import Batch, RawRecord, key_of, validate

_LINE = re.compile(r"line ([0-9]+)")


def read_sources(
    sources: Sequence[str],
    *,
    known_companies: Collection[str] = (),
    known_items: Collection[str] = (),
    client: httpx.Client | None = None,
) -> Batch:
    """Read and validate all sources into one Batch.

    Raises InputError listing every problem across all sources, or ServiceError (after trying
    every source) when a URL's server could not be reached at all.
    """
    loaded, problems, unreachable = _load_all(sources, client)
    if unreachable:
        reasons = "; ".join(f"{u.where}: {u.reason}" for u in unreachable)
        raise ServiceError(f"could not fetch {reasons}")
    return read_bodies(
        loaded,
        known_companies=known_companies,
        known_items=known_items,
        problems=problems,
        order=[str(source) for source in sources],
    )


def read_bodies(
    loaded: Sequence[Loaded],
    *,
    known_companies: Collection[str] = (),
    known_items: Collection[str] = (),
    problems: Sequence[Problem] = (),
    order: Sequence[str] | None = None,
) -> Batch:
    """Parse and validate bodies already in memory (files read, URLs fetched, a request's body)
    into one Batch, or raise InputError listing every problem, `problems` found before included,
    sorted by the position of their source in `order` (default: `loaded`'s), then by line."""
    problems = list(problems)
    parsed: list[RawRecord | FeedEntry] = []
    for source in loaded:
        found: list[Problem]
        if source.format == "feed":
            entries, found = parse_feed(source.body, source.where)
            parsed.extend(entries)
        elif source.format == "jsonl":
            lines, found = parse_jsonl(source.body, source.where)
            parsed.extend(lines)
        else:
            documents, found = parse_document(source.body, source.where, source.format)
            parsed.extend(documents)
        problems.extend(found)

    # A feed's categories can only be sorted into companies once every company is known.
    company_slugs = set(known_companies)
    for raw in parsed:
        if isinstance(raw, RawRecord) and raw.kind == "company" and (slug := key_of(raw)):
            company_slugs.add(slug)
    records = [r.record(company_slugs) if isinstance(r, FeedEntry) else r for r in parsed]
    batch = validate(records, problems, known_companies=known_companies, known_items=known_items)
    if problems:
        wheres = order if order is not None else [source.where for source in loaded]
        raise InputError(sorted(problems, key=_by_position(wheres)))
    return batch


def _by_position(sources: Sequence[str]) -> Callable[[Problem], tuple[int, int]]:
    """Sort key: the source's position in the call, then the line (JSON Lines), else as found."""
    order = {str(source): index for index, source in reversed(list(enumerate(sources)))}

    def key(problem: Problem) -> tuple[int, int]:
        line = _LINE.fullmatch(problem.record)
        return order.get(problem.where, len(order)), int(line.group(1)) if line else 0

    return key


def _load_all(
    sources: Sequence[str], client: httpx.Client | None
) -> tuple[list[Loaded], list[Problem], list[Unreachable]]:
    loaded: list[Loaded] = []
    problems: list[Problem] = []
    unreachable: list[Unreachable] = []
    own_client: httpx.Client | None = None
    try:
        for source in map(str, sources):
            if is_url(source):
                if client is None:
                    # Made on first need and closed below; a caller's client stays the caller's.
                    client = own_client = new_client()
                result = fetch(source, client)
            elif "://" in source:
                result = Problem(source, "", "", "only http:// and https:// URLs can be fetched")
            else:
                result = read_file(source)
            if isinstance(result, Loaded):
                loaded.append(result)
            elif isinstance(result, Unreachable):
                unreachable.append(result)
            else:
                problems.append(result)
    finally:
        if own_client is not None:
            own_client.close()
    return loaded, problems, unreachable
