"""Reading sources: every record validated before anything is written, in bounded memory.

`check_sources` reads every source once, record by record, validating each as it comes and
keeping only keys (for duplicates and references) and topics in memory; the valid models wait
in a `Spool` on disk. It raises InputError listing every problem, or returns the `Checked`
input for the store to write (`Store.write_records`) a batch at a time, in one transaction.
`read_sources` (files, URLs) and `read_bodies` (bodies at hand) are the same check, with the
models read back into one `Batch` (small inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO

import httpx

from digest.errors import InputError, Problem, ServiceError
from digest.ingest.documents import (
    Found,
    Unreadable,
    json_records,
    jsonl_records,
    yaml_records,
)
from digest.ingest.feeds import FeedEntry, feed_records
from digest.ingest.fetch import Format, Loaded, Unreachable, fetch, is_url, new_client, read_file
from digest.ingest.spool import Spool
from digest.ingest.validate import Batch, Checker, Lookup, Naming, TopicRules
from digest.models import AmwRead, Company, NewsItem

READERS: dict[Format, Callable[[IO[bytes], str], Iterator[Found]]] = {
    "yaml": yaml_records,
    "json": json_records,
    "jsonl": jsonl_records,
    "feed": feed_records,
}
NAMING: dict[Format, Naming] = {
    "yaml": "lists",
    "json": "lists",
    "jsonl": "lines",
    "feed": "entries",
}


@dataclass
class Checked:
    """An input that passed every check, its models waiting in a spool to be written."""

    spool: Spool
    topics: Mapping[str, str]  # hashtags the input declared for topics
    warnings: tuple[Problem, ...]

    def companies(self) -> Iterator[Company]:
        return self.spool.companies()

    def items(self) -> Iterator[NewsItem]:
        return self.spool.items()

    def reads(self) -> Iterator[AmwRead]:
        return self.spool.reads()

    def batch(self) -> Batch:
        return Batch(
            tuple(self.companies()),
            tuple(self.items()),
            tuple(self.reads()),
            dict(self.topics),
            self.warnings,
        )

    def close(self) -> None:
        self.spool.close()

    def __enter__(self) -> Checked:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_sources(
    sources: Sequence[str],
    *,
    known_companies: Collection[str] = (),
    known_items: Collection[str] | Lookup = (),
    topics: TopicRules | None = None,
    client: httpx.Client | None = None,
) -> Batch:
    """Read and validate all sources into one Batch (see `check_sources`)."""
    with check_sources(
        sources,
        known_companies=known_companies,
        known_items=known_items,
        topics=topics,
        client=client,
    ) as checked:
        return checked.batch()


def check_sources(
    sources: Sequence[str],
    *,
    known_companies: Collection[str] = (),
    known_items: Collection[str] | Lookup = (),
    topics: TopicRules | None = None,
    client: httpx.Client | None = None,
) -> Checked:
    """Read and validate all sources, keeping their models in a spool (close the result).

    `known_companies` are the slugs already in the store; `known_items` the ids, or a function
    that answers which of some ids are there (so a big store is never read whole). Raises
    InputError listing every problem across all sources, or ServiceError (after trying every
    source) when a URL's server could not be reached at all.
    """
    loaded, unreachable = _load_all(sources, client)
    try:
        if unreachable:
            reasons = "; ".join(f"{u.where}: {u.reason}" for u in unreachable)
            raise ServiceError(f"could not fetch {reasons}")
        return check_loaded(
            loaded, known_companies=known_companies, known_items=known_items, topics=topics
        )
    finally:
        for source in loaded:
            if isinstance(source, Loaded):
                source.close()


def read_bodies(
    loaded: Sequence[Loaded],
    *,
    known_companies: Collection[str] = (),
    known_items: Collection[str] | Lookup = (),
    topics: TopicRules | None = None,
) -> Batch:
    """Validate bodies already at hand (a request's body, say) into one Batch, as `read_sources`
    does files and URLs; InputError listing every problem."""
    with check_loaded(
        loaded, known_companies=known_companies, known_items=known_items, topics=topics
    ) as checked:
        return checked.batch()


def check_loaded(
    loaded: Sequence[Loaded | Problem],
    *,
    known_companies: Collection[str] = (),
    known_items: Collection[str] | Lookup = (),
    topics: TopicRules | None = None,
) -> Checked:
    """`check_sources` for sources already at hand (files, or fetched bodies)."""
    spool = Spool()
    checker = Checker(
        spool, known_companies=known_companies, known_items=_lookup(known_items), topics=topics
    )
    try:
        for source in loaded:
            if isinstance(source, Problem):
                checker.source(source.where, "lists")
                checker.problem(source)
            else:
                _check_source(checker, source)
        problems, warnings = checker.finish()
        if problems:
            raise InputError(problems)
    except BaseException:
        spool.close()
        raise
    return Checked(spool, checker.topic_hashtags, tuple(warnings))


def _check_source(checker: Checker, source: Loaded) -> None:
    checker.source(source.where, NAMING[source.format])
    try:
        stream = source.open()
    except OSError as error:
        message = f"cannot read: {error.strerror or error}"
        checker.problem(Problem(source.where, "", "", message))
        return
    try:
        for found in READERS[source.format](stream, source.where):
            if isinstance(found, Problem):
                checker.problem(found)
            elif isinstance(found, Unreadable):
                checker.unreadable(found.problem)
            elif isinstance(found, FeedEntry):
                checker.entry(found)
            else:
                checker.record(found)
    except OSError as error:  # the file went away, or the disk failed, while being read
        checker.problem(Problem(source.where, "", "", f"cannot read: {error.strerror or error}"))
    finally:
        if source.path is not None:
            stream.close()


def _lookup(known: Collection[str] | Lookup) -> Lookup:
    if callable(known):
        return known
    known_set = frozenset(known)
    return lambda keys: known_set.intersection(keys)


def _load_all(
    sources: Sequence[str], client: httpx.Client | None
) -> tuple[list[Loaded | Problem], list[Unreachable]]:
    """Every source at hand in order (URLs fetched), or the problem that keeps it from us."""
    loaded: list[Loaded | Problem] = []
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
            if isinstance(result, Unreachable):
                unreachable.append(result)
            elif isinstance(result, Loaded | Problem):
                loaded.append(result)
    except BaseException:
        for source in loaded:
            if isinstance(source, Loaded):
                source.close()
        raise
    finally:
        if own_client is not None:
            own_client.close()
    return loaded, unreachable
