"""Ingest wired to the store: files and URLs from the command line, and the scheduled pull of
the site's feeds (`schedules.ingest`).

Both check a whole input before writing any of it (`ingest.check_sources`), then write it in
one transaction a chunk at a time (`Store.write_records`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from digest.context import Context
from digest.errors import Problem
from digest.ingest import TopicRules, check_sources
from digest.store import BatchCounts, Counts

log = logging.getLogger("digest")


def topic_rules(ctx: Context) -> TopicRules:
    """The controlled list of topics: the store's, plus those declared in settings.yaml."""
    declared = ctx.settings.digests.topics
    return TopicRules(frozenset(declared.controlled(ctx.store.topics())), declared.strict)


@dataclass(frozen=True, slots=True)
class IngestReport:
    counts: BatchCounts
    warnings: tuple[Problem, ...]  # topics not on the controlled list


def ingest_sources(ctx: Context, sources: Sequence[str]) -> IngestReport:
    """Check every source, then write them all; InputError (nothing written) on any problem."""
    store = ctx.store
    with check_sources(
        sources,
        known_companies=store.company_slugs(),
        known_items=store.existing_item_ids,
        topics=topic_rules(ctx),
    ) as checked:
        counts = store.write_records(
            checked.companies(), checked.items(), checked.reads(), checked.topics
        )
        return IngestReport(counts, checked.warnings)


def describe(counts: BatchCounts) -> list[str]:
    """One line per kind of record: "items: 3 new, 1 updated, 70 unchanged"."""
    return [
        f"{kind}: {_words(getattr(counts, kind))}"
        for kind in ("companies", "items", "reads", "topics")
    ]


def _words(counts: Counts) -> str:
    return f"{counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged"
