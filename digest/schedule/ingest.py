"""Ingest wired to the store: files and URLs from the command line, and the scheduled pull of
the site's feeds (`schedules.ingest`).

Both check a whole input before writing any of it (`ingest.check_sources`), then write it in
one transaction a chunk at a time (`Store.write_records`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from digest.context import Context
from digest.errors import InputError, Problem, ServiceError
from digest.ingest import Checked, TopicRules, check_loaded, check_sources
from digest.ingest.fetch import Loaded, NotModified, Unreachable, Validators, fetch, new_client
from digest.ingest.subscribers import Followable
from digest.store import BatchCounts, Counts

# Problems of a failing feed written to the log; the rest are counted.
_LOGGED_PROBLEMS = 20

log = logging.getLogger("digest")


def controlled_topics(ctx: Context) -> dict[str, str | None]:
    """The controlled list of topics: the store's, plus those declared in settings.yaml."""
    return ctx.settings.digests.topics.controlled(ctx.store.topics())


def topic_rules(ctx: Context) -> TopicRules:
    return TopicRules(frozenset(controlled_topics(ctx)), ctx.settings.digests.topics.strict)


def followable(ctx: Context) -> Followable:
    """What subscribers may follow: the stored companies and the controlled topics."""
    return Followable.of(ctx.store.company_slugs(), controlled_topics(ctx))


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
        return IngestReport(write(ctx, checked), checked.warnings)


def write(ctx: Context, checked: Checked) -> BatchCounts:
    return ctx.store.write_records(
        checked.companies(), checked.items(), checked.reads(), checked.topics
    )


def describe(counts: BatchCounts) -> list[str]:
    """One line per kind of record: "items: 3 new, 1 updated, 70 unchanged"."""
    return [
        f"{kind}: {_words(getattr(counts, kind))}"
        for kind in ("companies", "items", "reads", "topics")
    ]


def summary(counts: BatchCounts) -> str:
    """The kinds that had records, on one line: "items: 2 new, 0 updated, 18 unchanged"."""
    kinds = [
        f"{kind}: {_words(part)}"
        for kind in ("companies", "items", "reads", "topics")
        if (part := getattr(counts, kind)).total
    ]
    return "; ".join(kinds) or "no records in it"


def _words(counts: Counts) -> str:
    return f"{counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged"


# --- the scheduled pull of the site's feeds ---------------------------------------------------


@dataclass
class PullReport:
    """How each feed of one pull went, by outcome: "changed", "unchanged", "not modified",
    "failed" (as a delivery report counts rows by state)."""

    states: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.states[outcome] = self.states.get(outcome, 0) + 1

    def words(self, nothing: str = "no feeds to pull") -> str:
        """ "1 feed changed, 2 not modified, 1 failed", or `nothing`."""
        parts = [f"{count} {outcome}" for outcome, count in self.states.items() if count]
        if not parts:
            return nothing
        total = sum(self.states.values())
        return f"{total} {'feed' if total == 1 else 'feeds'}: " + ", ".join(parts)


def pull_feeds(ctx: Context, client: httpx.Client | None = None) -> PullReport:
    """The `schedules.ingest` job: each feed fetched only if it changed since it was last read
    (If-None-Match, If-Modified-Since), checked as `digest ingest` checks, and written in a
    transaction of its own. A feed that fails leaves the store as it was and keeps the
    validators of its last good read, so the next run reads it again in full."""
    report = PullReport()
    own = client is None
    client = client or new_client()
    try:
        for url in ctx.settings.schedules.ingest.urls:
            report.count(pull_feed(ctx, url, client))
    finally:
        if own:
            client.close()
    return report


def pull_feed(ctx: Context, url: str, client: httpx.Client) -> str:
    """Pull one feed; returns its outcome, and logs it in words."""
    store = ctx.store
    known = store.feed_source(url)
    sent = Validators(known.etag, known.last_modified) if known else None
    fetched = fetch(url, client, sent)
    if isinstance(fetched, NotModified):
        kept = sent or Validators()
        store.record_feed_read(
            url, etag=kept.etag, last_modified=kept.last_modified, at=ctx.clock(), changed=False
        )
        log.info("feed %s: not modified since it was last read", url)
        return "not modified"
    if not isinstance(fetched, Loaded):
        reason = fetched.reason if isinstance(fetched, Unreachable) else fetched.message
        log.warning(
            "feed %s: not read (%s); the store is unchanged, the next run tries again", url, reason
        )
        return "failed"
    try:
        counts = _ingest_feed(ctx, fetched)
    except InputError as error:
        problems = error.problems
        log.warning(
            "feed %s: not ingested (%s); the store is unchanged, the next run reads it again",
            url,
            "1 problem" if len(problems) == 1 else f"{len(problems)} problems",
        )
        for problem in problems[:_LOGGED_PROBLEMS]:
            log.warning("feed %s", problem)
        return "failed"
    except ServiceError as error:
        log.error("feed %s: not ingested: %s; the next run tries again", url, error)
        return "failed"
    finally:
        fetched.close()
    changed = any(
        part.inserted or part.updated
        for part in (counts.companies, counts.items, counts.reads, counts.topics)
    )
    answered = fetched.validators
    store.record_feed_read(
        url,
        etag=answered.etag,
        last_modified=answered.last_modified,
        at=ctx.clock(),
        changed=changed,
    )
    log.info("feed %s: %s", url, summary(counts))
    return "changed" if changed else "unchanged"


def _ingest_feed(ctx: Context, fetched: Loaded) -> BatchCounts:
    store = ctx.store
    with check_loaded(
        [fetched],
        known_companies=store.company_slugs(),
        known_items=store.existing_item_ids,
        topics=topic_rules(ctx),
    ) as checked:
        for warning in checked.warnings:
            log.warning("feed %s", warning)
        return write(ctx, checked)
