"""The store: reads and writes the domain models, on SQLite or PostgreSQL.

Every write is one transaction: it happens completely or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Table,
    delete,
    exists,
    false,
    func,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    StatementError,
)

from digest.errors import InputError, Problem, ServiceError
from digest.models import (
    AmwRead,
    Company,
    Consent,
    Digest,
    DigestKind,
    NewsItem,
    Preferences,
    Subscriber,
    SubscriberStatus,
)
from digest.names import PersonName
from digest.store import (
    audit,
    cards,
    codec,
    events,
    feed_sources,
    profiles,
    schema,
    subscriptions,
)
from digest.store.bulk import BulkWriter
from digest.store.engine import (
    create_engine_for,
    dialect_insert,
    first_line,
    mask,
    unreachable,
    write_transaction,
)
from digest.store.feed_sources import FeedSource
from digest.store.rows import (
    SUBSCRIBER_COLUMNS,
    company_from_row,
    company_row,
    email_key,
    item_from_row,
    item_row,
    items_from_rows,
    read_from_row,
    read_row,
    subscriber_from_row,
)

if TYPE_CHECKING:
    from digest.ingest import Batch

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r'^(down_)?revision: str(?: \| None)? = "([^"]+)"', re.MULTILINE)


def newest_revision() -> str | None:
    """The head of the migrations, read from their files (`revision` no other file names as its
    `down_revision`) without loading Alembic, which costs 37 MB and 0.1 s at every start;
    None unless there is exactly one."""
    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for down, revision in _REVISION.findall(script.read_text()):
            (parents if down else revisions).add(revision)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


# Rows per IN (...) list: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 500

# Any constant: PostgreSQL advisory lock taken while migrating, so that workers starting together
# do not race to create the same tables.
MIGRATION_LOCK = 0x64696765  # "dige"

_T = TypeVar("_T")
_M = TypeVar("_M", Company, NewsItem, AmwRead)


@dataclass(frozen=True, slots=True)
class Counts:
    """Records of one call: new ones, existing ones updated, and (where the store compares them)
    existing ones that were already exactly so and were left alone."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True, slots=True)
class SubscriberCounts:
    """What an import of subscribers did: new ones, updated ones, and of those updated how many
    kept preferences their subscriber had changed since (or, with overwrite, lost them)."""

    inserted: int = 0
    updated: int = 0
    kept: int = 0
    overwritten: int = 0


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What `Store.write_records` wrote, per kind of record; topics: new names, changed tags."""

    companies: Counts = Counts()
    items: Counts = Counts()
    reads: Counts = Counts()
    topics: Counts = Counts()

    @property
    def companies_inserted(self) -> int:
        return self.companies.inserted

    @property
    def companies_updated(self) -> int:
        return self.companies.updated

    @property
    def items_inserted(self) -> int:
        return self.items.inserted

    @property
    def items_updated(self) -> int:
        return self.items.updated

    @property
    def reads_inserted(self) -> int:
        return self.reads.inserted

    @property
    def reads_updated(self) -> int:
        return self.reads.updated


@dataclass(frozen=True, slots=True)
class DigestSummary:
    key: str
    kind: DigestKind
    title: str
    window_start: datetime
    window_end: datetime
    status: str = "draft"  # an ApprovalStatus value
    planned_at: datetime | None = None  # released to its recipients


class ApprovalStatus(StrEnum):
    """Where a stored digest stands with the editors."""

    DRAFT = "draft"  # no decision yet: sent at its time unless its kind requires approval
    HELD = "held"  # an editor stopped it: never sent while held
    APPROVED = "approved"  # an editor let it go: sent at its time


DECISION_ACTIONS = {
    ApprovalStatus.APPROVED: "digest.approve",
    ApprovalStatus.HELD: "digest.hold",
    ApprovalStatus.DRAFT: "digest.draft",
}


@dataclass(frozen=True, slots=True)
class DigestApproval:
    key: str
    status: ApprovalStatus
    approved_by: str | None
    approved_at: datetime | None
    planned_at: datetime | None = None  # when it was released to its recipients
    approved_hash: str | None = None  # codec.content_hash of the content as approved


class Store:
    """The database of companies, items, AMW Reads, subscribers, digests and the outbox."""

    engine: Engine

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to `url` (SQLite or PostgreSQL) and bring its schema up to date.

        Raises ConfigError for a URL that is not a usable database URL and ServiceError for a
        database that cannot be reached; both name the URL with its password masked.
        """
        engine = create_engine_for(url)
        store = cls(engine)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as exc:
            engine.dispose()
            raise unreachable(engine.url, exc) from exc
        try:
            store.migrate()
        except OperationalError as exc:
            engine.dispose()
            raise unreachable(engine.url, exc) from exc
        except DBAPIError as exc:
            engine.dispose()
            raise ServiceError(
                f"could not bring the schema of the database {mask(engine.url)} up to date: "
                f"{first_line(exc.orig)}; check that the user may create tables there"
            ) from exc
        except ServiceError:
            engine.dispose()
            raise
        return store

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration; a no-op when it is already there (one
        query: Alembic loads only to upgrade)."""
        if self._schema_version() == newest_revision():
            return
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            # env.py runs on this connection, inside this transaction.
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                raise ServiceError(
                    f"cannot use the database {mask(self.engine.url)}: {exc}; was it created "
                    "by a newer version of digest?"
                ) from exc

    def _schema_version(self) -> str | None:
        """The schema's migration, None for a database without one (a new one)."""
        with self.engine.connect() as connection:
            if not self.engine.dialect.has_table(connection, "alembic_version"):
                return None
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            found = list(versions.scalars())
        return found[0] if len(found) == 1 else None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction (see `engine.write_transaction`)."""
        with write_transaction(self.engine) as connection:
            yield connection

    # --- companies, items and AMW Reads -------------------------------------------------------

    def write_batch(self, batch: Batch) -> BatchCounts:
        """`write_records` of a batch held in memory."""
        return self.write_records(batch.companies, batch.items, batch.reads, batch.topics)

    def write_records(
        self,
        companies: Iterable[Company],
        items: Iterable[NewsItem],
        reads: Iterable[AmwRead],
        topic_hashtags: Mapping[str, str] | None = None,
    ) -> BatchCounts:
        """Upsert companies, then items, then reads, CHUNK records at a time, in one transaction.

        The iterables are read once each, in that order, so they may stream from disk. A record
        equal to the stored one is left alone (counted as unchanged). An item's companies are
        replaced by its list, in its order. Every topic of an item is put in the topics table,
        with its hashtag where `topic_hashtags` declares one (else the stored one stays). A
        record that breaks a rule of the database (an unknown company or item, a rating out of
        range) raises InputError, and nothing is written. Within one chunk a key given twice
        keeps its last record; validated input never gives one twice.
        """
        now = schema.utcnow()
        names: set[str] = set()
        counts = {kind: Counts() for kind in ("companies", "items", "reads")}
        part = "companies"
        try:
            with self.write() as connection:
                writer = BulkWriter(connection)
                for chunk in _batches(companies):
                    counts["companies"] += self._write_changed(
                        writer, schema.companies, chunk, _company_key, _stored_companies,
                        company_row,
                    )[0]  # fmt: skip
                part = "items"
                for chunk in _batches(items):
                    written, changed, existing = self._write_changed(
                        writer, schema.items, chunk, _item_key, _stored_items,
                        lambda item: item_row(item, now),
                    )  # fmt: skip
                    counts["items"] += written
                    self._replace_item_companies(writer, changed, existing)
                    names.update(topic for item in chunk for topic in item.topics)
                part = "reads"
                for chunk in _batches(reads):
                    counts["reads"] += self._write_changed(
                        writer, schema.reads, chunk, _read_key, _stored_reads, read_row
                    )[0]
                part = "topics"
                topic_counts = self._write_topics(connection, names, topic_hashtags or {})
        except StatementError as exc:
            raise self._write_error(part, exc) from exc
        return BatchCounts(topics=topic_counts, **counts)

    def _write_changed(
        self,
        writer: BulkWriter,
        table: Table,
        models: Sequence[_M],
        key: Callable[[_M], str],
        stored: Callable[[Connection, list[str]], dict[str, _M]],
        row: Callable[[_M], dict[str, Any]],
    ) -> tuple[Counts, list[_M], set[str]]:
        """Upsert those of `models` that differ from their stored version.

        Returns the counts, the models written and the keys that were stored before.
        """
        unique = _last_by(models, key)
        before = stored(writer.connection, [key(model) for model in unique])
        changed = [model for model in unique if before.get(key(model)) != model]
        writer.insert(table, [row(model) for model in changed], upsert=True)
        inserted = sum(1 for model in changed if key(model) not in before)
        counts = Counts(inserted, len(changed) - inserted, len(unique) - len(changed))
        return counts, changed, set(before)

    def _write_topics(
        self, connection: Connection, names: Collection[str], hashtags: Mapping[str, str]
    ) -> Counts:
        table = schema.topics
        new = updated = 0
        for chunk in _chunks(sorted(names)):
            stored = dict(
                connection.execute(
                    select(table.c.name, table.c.hashtag).where(table.c.name.in_(chunk))
                ).all()
            )
            rows = [{"name": n, "hashtag": hashtags.get(n)} for n in chunk if n not in stored]
            if rows:
                connection.execute(table.insert(), rows)
            for name in chunk:
                hashtag = hashtags.get(name)
                if name in stored and hashtag is not None and stored[name] != hashtag:
                    statement = update(table).where(table.c.name == name).values(hashtag=hashtag)
                    connection.execute(statement)
                    updated += 1
            new += len(rows)
        return Counts(new, updated, len(names) - new - updated)

    def topics(self) -> dict[str, str | None]:
        """Every topic an item names, by name, with the hashtag an input declared (else None)."""
        query = select(schema.topics.c.name, schema.topics.c.hashtag).order_by(schema.topics.c.name)
        with self.engine.connect() as connection:
            return dict(connection.execute(query).all())

    def existing_item_ids(self, item_ids: Collection[str]) -> set[str]:
        """Those of the ids that are stored items (asked a chunk at a time)."""
        column = schema.items.c.id
        with self.engine.connect() as connection:
            return _existing(connection, column, sorted(set(item_ids)))

    # The feeds `schedules.ingest` pulls (feed_sources.py).

    def feed_source(self, url: str) -> FeedSource | None:
        return feed_sources.feed_source(self.engine, url)

    def record_feed_read(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        at: datetime,
        changed: bool,
    ) -> None:
        feed_sources.record_feed_read(
            self.engine, url, etag=etag, last_modified=last_modified, at=at, changed=changed
        )

    def company_slugs(self) -> set[str]:
        with self.engine.connect() as connection:
            return set(connection.scalars(select(schema.companies.c.slug)))

    def item_ids(self) -> set[str]:
        with self.engine.connect() as connection:
            return set(connection.scalars(select(schema.items.c.id)))

    def companies(self) -> dict[str, Company]:
        query = select(schema.companies).order_by(schema.companies.c.slug)
        with self.engine.connect() as connection:
            return {row.slug: company_from_row(row) for row in connection.execute(query)}

    def items_between(self, start: datetime, end: datetime) -> list[NewsItem]:
        """Items published in [start, end), by (published_at, id), with their companies."""
        _require_aware("start", start)
        _require_aware("end", end)
        items, links = schema.items, schema.item_companies
        window = (items.c.published_at >= start) & (items.c.published_at < end)
        item_query = select(items).where(window).order_by(items.c.published_at, items.c.id)
        link_query = (
            select(links.c.item_id, links.c.company_slug)
            .join(items, items.c.id == links.c.item_id)
            .where(window)
            .order_by(links.c.item_id, links.c.position)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(item_query).all()
            slugs: dict[str, list[str]] = {}
            for item_id, slug in connection.execute(link_query):
                slugs.setdefault(item_id, []).append(slug)
        return [item_from_row(row, tuple(slugs.get(row.id, ()))) for row in rows]

    def timeline_candidates(
        self,
        start: datetime,
        end: datetime,
        *,
        companies: Collection[str],
        topics: Collection[tuple[str, str | None]],
        count: int,
        zone: tzinfo,
    ) -> list[NewsItem]:
        """What the timelines of a few entries can list (compose/connections.py), read instead
        of the whole look-back [start, end): each company's `count` newest items, and for each
        (topic, company) the `count` newest items on the topic not about that company; each
        with every other item of the day the last of them falls on (in `zone`), since a
        timeline orders a day's items by rank, not by time."""
        _require_aware("start", start)
        _require_aware("end", end)
        items, links = schema.items, schema.item_companies

        def about(slug: str) -> Any:
            # Read from the company's links, not tested per item of the look-back: a company
            # with fewer items than `count` made the newest-first walk read every item in it.
            return items.c.id.in_(select(links.c.item_id).where(links.c.company_slug == slug))

        groups = [about(slug) for slug in sorted(set(companies))]
        for topic, slug in sorted(set(topics), key=repr):
            on_topic = self._has_topic(topic)
            groups.append(on_topic if slug is None else on_topic & ~about(slug))
        window = (items.c.published_at >= start) & (items.c.published_at < end)
        ids: set[str] = set()
        with self.engine.connect() as connection:
            for group in groups:
                last = connection.scalar(
                    select(items.c.published_at)
                    .where(window, group)
                    .order_by(items.c.published_at.desc())
                    .offset(max(count, 1) - 1)
                    .limit(1)
                )
                since = start if last is None else max(start, _day_start(last, zone))
                found = select(items.c.id).where(
                    items.c.published_at >= since, items.c.published_at < end, group
                )
                ids.update(connection.scalars(found))
            stored: dict[str, NewsItem] = {}
            for chunk in _chunks(sorted(ids)):
                stored.update(_stored_items(connection, chunk))
        return sorted(stored.values(), key=lambda item: (item.published_at, item.id))

    def _has_topic(self, topic: str) -> Any:
        """Whether an item's topics (a JSON list) hold `topic`."""
        topics = schema.items.c.topics
        if self.engine.dialect.name == "postgresql":
            return type_coerce(topics, JSONB).contains([topic])
        each = func.json_each(topics).table_valued("value").alias("topic")
        return exists(select(literal(1)).select_from(each).where(each.c.value == topic))

    def reads_for(self, item_ids: Collection[str]) -> dict[str, AmwRead]:
        """The AMW Reads of those items that have one, by item id."""
        found: dict[str, AmwRead] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted(set(item_ids))):
                query = select(schema.reads).where(schema.reads.c.item_id.in_(chunk))
                for row in connection.execute(query):
                    found[row.item_id] = read_from_row(row)
        return found

    def item_titles(self, item_ids: Collection[str]) -> dict[str, str]:
        """The titles of those of the items the store has, by id."""
        found: dict[str, str] = {}
        items = schema.items.c
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted(set(item_ids))):
                query = select(items.id, items.title).where(items.id.in_(chunk))
                found.update({item_id: title for item_id, title in connection.execute(query)})
        return found

    def has_items_between(self, start: datetime, end: datetime) -> bool:
        items = schema.items.c
        query = select(exists().where(items.published_at >= start, items.published_at < end))
        with self.engine.connect() as connection:
            return bool(connection.scalar(query))

    def companies_with_news(self, start: datetime, end: datetime) -> list[str]:
        """The slugs of the companies with an item published in [start, end), sorted."""
        items, links = schema.items, schema.item_companies
        query = (
            select(links.c.company_slug)
            .join(items, items.c.id == links.c.item_id)
            .where(items.c.published_at >= start, items.c.published_at < end)
            .distinct()
            .order_by(links.c.company_slug)
        )
        with self.engine.connect() as connection:
            return list(connection.scalars(query))

    def search_items(
        self, start: datetime, end: datetime, words: str, *, limit: int = 20
    ) -> list[NewsItem]:
        """Items published in [start, end) whose title, or one of whose companies' names or
        slugs, contains `words` (any case), newest first."""
        items, links, companies = schema.items, schema.item_companies, schema.companies
        pattern = f"%{_like_escaped(words.strip())}%"
        # Asked of each item of the window (by its key in item_companies), never a list of
        # every item of every matching company: "ai" matches most companies of a big store.
        by_company = exists().where(
            links.c.item_id == items.c.id,
            companies.c.slug == links.c.company_slug,
            companies.c.name.ilike(pattern, escape="\\")
            | companies.c.slug.ilike(pattern, escape="\\"),
        )
        query = (
            select(items)
            .where(
                items.c.published_at >= start,
                items.c.published_at < end,
                items.c.title.ilike(pattern, escape="\\") | by_company,
            )
            .order_by(items.c.published_at.desc(), items.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return items_from_rows(connection, connection.execute(query).all())

    def latest_published_at(self) -> datetime | None:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.max(schema.items.c.published_at)))

    # --- subscribers --------------------------------------------------------------------------

    def save_subscribers(
        self,
        subscribers: Iterable[Subscriber],
        now: datetime | None = None,
        *,
        overwrite: bool = False,
        consents: Mapping[str, Consent] | None = None,
    ) -> SubscriberCounts:
        """Upsert by id in one transaction (`import_subscribers` of subscribers in memory).

        An address used twice, in any spelling of upper and lower case, raises InputError and
        nothing is written. `consents` (by id): the times another service's export gave.
        """
        unique = _last_by(subscribers, lambda subscriber: subscriber.id)
        _check_unique_emails(unique)
        given = consents or {}
        return self.import_subscribers(
            lambda: ((chunk, given) for chunk in _chunks(unique)), now, overwrite=overwrite
        )

    def import_subscribers(
        self,
        batches: Callable[[], Iterable[tuple[Sequence[Subscriber], Mapping[str, Consent]]]],
        now: datetime | None = None,
        *,
        overwrite: bool = False,
    ) -> SubscriberCounts:
        """Upsert an import by id, a batch at a time, in one transaction.

        `batches()` gives the import's subscribers (each address once) a batch at a time with
        the consent times (by id) that another service's export gave them; it is called twice,
        so the import may stream from disk: first every batch is checked, then every batch is
        written. An address a stored subscriber has, unless the import gives that subscriber
        another, raises InputError and nothing is written; so does an address the suppression
        list keeps from coming back (see `subscriptions.suppressed_problems`). Preferences a
        subscriber changed themself since an import last wrote theirs are kept, and counted,
        unless `overwrite` (see `subscriptions.imported_rows`). An unsubscribed, bounced or
        complained subscriber's address goes on the suppression list.
        """
        when = now or schema.utcnow()
        inserted = updated = kept = overwritten = 0
        try:
            with self.write() as connection:
                _check_import(connection, batches)
                writer = BulkWriter(connection)
                for batch, consents in batches():
                    unique = _last_by(batch, lambda subscriber: subscriber.id)
                    rows, kept_now, overwritten_now = subscriptions.imported_rows(
                        connection, unique, when, overwrite=overwrite, consents=consents
                    )
                    ids = [row["id"] for row in rows]
                    existing = _existing(connection, schema.subscribers.c.id, ids)
                    # On PostgreSQL one statement a batch (COPY, then INSERT … SELECT): the
                    # profile counts' statement trigger fired for each row of an executemany,
                    # updating one count a hundred thousand times in the transaction (4× the
                    # import's time).
                    writer.insert(schema.subscribers, rows, upsert=True, keep=("created_at",))
                    subscriptions.suppress_unmailable(self.engine, connection, unique, when)
                    created = [subscriber for subscriber in unique if subscriber.id not in existing]
                    events.emit_all(
                        connection,
                        [events.subscriber_event("subscriber.created", new) for new in created],
                    )
                    inserted += len(rows) - len(existing)
                    updated += len(existing)
                    kept += kept_now
                    overwritten += overwritten_now
        except StatementError as exc:
            raise self._write_error("subscribers", exc) from exc
        return SubscriberCounts(inserted, updated, kept, overwritten)

    def subscribers(self, statuses: Collection[SubscriberStatus] | None = None) -> list[Subscriber]:
        """Subscribers ordered by id, only those in `statuses` if given."""
        query = select(schema.subscribers).order_by(schema.subscribers.c.id)
        if statuses is not None:
            wanted = sorted(SubscriberStatus(status).value for status in statuses)
            query = query.where(schema.subscribers.c.status.in_(wanted))
        with self.engine.connect() as connection:
            return [subscriber_from_row(row) for row in connection.execute(query)]

    def subscriber_ids(self, emails: Collection[str]) -> dict[str, str]:
        """{address as given: its subscriber's id} for those of `emails` that are stored, in
        any spelling of upper and lower case."""
        table = schema.subscribers
        by_key = {email_key(email): email for email in emails}
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted(by_key)):
                query = select(table.c.email_key, table.c.id).where(table.c.email_key.in_(chunk))
                found.update(
                    (by_key[key], stored_id) for key, stored_id in connection.execute(query)
                )
        return found

    def subscriber(self, subscriber_id: str) -> Subscriber | None:
        query = select(schema.subscribers).where(schema.subscribers.c.id == subscriber_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        return subscriber_from_row(row) if row is not None else None

    # A subscriber's life (sign up, confirm, preferences, leave, be forgotten): each one
    # transaction, in subscriptions.py.

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        return subscriptions.subscriber_by_email(self.engine, email)

    def request_subscription(
        self,
        *,
        email: str,
        name: PersonName,
        new_id: str,
        timezone: str,
        now: datetime,
        preferences: Preferences | None = None,
        own_choice: bool = False,
    ) -> tuple[Subscriber | None, bool]:
        return subscriptions.request_subscription(
            self.engine,
            email=email,
            name=name,
            new_id=new_id,
            timezone=timezone,
            now=now,
            own_choice=own_choice,
            preferences=preferences,
        )

    def confirm_subscriber(self, subscriber_id: str, now: datetime) -> Subscriber | None:
        return subscriptions.confirm(self.engine, subscriber_id, now)

    def unsubscribe(self, subscriber_id: str, now: datetime) -> Subscriber | None:
        return subscriptions.unsubscribe(self.engine, subscriber_id, now)

    def update_preferences(
        self,
        subscriber_id: str,
        preferences: Preferences,
        timezone: str,
        now: datetime,
        *,
        by_subscriber: bool = False,
    ) -> Subscriber | None:
        return subscriptions.update_preferences(
            self.engine, subscriber_id, preferences, timezone, now, by_subscriber=by_subscriber
        )

    def subscriber_data(self, subscriber_id: str) -> dict[str, Any] | None:
        return subscriptions.subscriber_data(self.engine, subscriber_id)

    def forget_subscriber(
        self, now: datetime, *, subscriber_id: str | None = None, email: str | None = None
    ) -> int:
        return subscriptions.forget(self.engine, now, subscriber_id=subscriber_id, email=email)

    def purge_pending(self, before: datetime) -> int:
        return subscriptions.purge_pending(self.engine, before)

    def mark_undeliverable(
        self, email: str, status: SubscriberStatus, now: datetime
    ) -> Subscriber | None:
        """A provider reported a hard bounce or complaint (see `subscriptions`)."""
        return subscriptions.mark_undeliverable(self.engine, email, status, now)

    def suppression_reasons(self, emails: Sequence[str]) -> dict[str, str]:
        with self.engine.connect() as connection:
            return subscriptions.suppression_reasons(connection, emails)

    def search_subscribers(self, words: str, *, limit: int = 20) -> list[Subscriber]:
        """The subscriber with that id, and those whose address starts with `words` (any
        case), by address: a range over the indexed lower-case address, never a scan (on
        PostgreSQL with the pattern operators, so a locale's collation cannot bend it)."""
        table = schema.subscribers
        prefix = email_key(words.strip())
        if not prefix:
            return []
        key = table.c.email_key
        if self.engine.dialect.name == "postgresql":
            at_least, below = key.op("~>=~", is_comparison=True), key.op("~<~", is_comparison=True)
            in_range = at_least(prefix) & below(prefix + "\U0010ffff")
        else:
            in_range = (key >= prefix) & (key < prefix + "\U0010ffff")
        by_address = select(table).where(in_range).order_by(key).limit(limit)
        by_id = select(table).where(table.c.id == words.strip())
        with self.engine.connect() as connection:
            rows = [*connection.execute(by_id), *connection.execute(by_address)]
        found: dict[str, Subscriber] = {}
        for row in rows:
            found.setdefault(row.id, subscriber_from_row(row))
        return list(found.values())[:limit]

    def subscribers_by_id(self, subscriber_ids: Collection[str]) -> dict[str, Subscriber]:
        """Those of the ids that exist, in one query per chunk (the deliverer asks per batch)."""
        found: dict[str, Subscriber] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted(set(subscriber_ids))):
                query = select(*SUBSCRIBER_COLUMNS).where(schema.subscribers.c.id.in_(chunk))
                for row in connection.execute(query):
                    found[row.id] = subscriber_from_row(row)
        return found

    def iter_subscribers(
        self, statuses: Collection[SubscriberStatus] | None = None, *, page: int = 5000
    ) -> Iterator[Subscriber]:
        """Subscribers ordered by id, read a page at a time so a million never sit in memory.

        Keyset pages, each its own short read: no cursor stays open while the caller writes.
        """
        after: str | None = None
        while True:
            query = select(schema.subscribers).order_by(schema.subscribers.c.id).limit(page)
            if statuses is not None:
                wanted = sorted(SubscriberStatus(status).value for status in statuses)
                query = query.where(schema.subscribers.c.status.in_(wanted))
            if after is not None:
                query = query.where(schema.subscribers.c.id > after)
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            for row in rows:
                yield subscriber_from_row(row)
            if len(rows) < page:
                return
            after = rows[-1].id

    def active_profiles(self) -> Iterator[tuple[Subscriber, int]]:
        """The active subscribers grouped by what a digest's audience and due times depend on
        (time zone and preferences): one stand-in of each group, with no id, address or name,
        and how many it stands for. Read from counts kept by triggers: a million subscribers
        make a few thousand groups, a few thousand rows."""
        return profiles.active_profiles(self.engine)

    def fold_subscriber_profiles(self) -> int:
        """Each backend's share of the profile counts folded into one (see `profiles.fold`)."""
        with self.write() as connection:
            return profiles.fold(connection)

    # --- digests ------------------------------------------------------------------------------

    def save_digest(self, digest: Digest) -> bool:
        """Store the digest's snapshot if its key is new (True); else leave the stored one (False).

        A digest, once planned, is what gets delivered: composing it again must not change it.
        """
        row = {
            "key": digest.key,
            "kind": digest.kind.value,
            "title": digest.title,
            "window_start": digest.window_start,
            "window_end": digest.window_end,
            "generated_at": digest.generated_at,
            "content": codec.digest_to_dict(digest),
            "created_at": schema.utcnow(),
        }
        statement = self._insert(schema.digests).values(row)
        # RETURNING, not rowcount: SQLAlchemy reports -1 for an INSERT's rowcount on psycopg.
        statement = statement.on_conflict_do_nothing(index_elements=["key"]).returning(
            schema.digests.c.key
        )
        with self.write() as connection:
            return connection.execute(statement).first() is not None

    def load_digest(self, key: str) -> Digest | None:
        query = select(schema.digests.c.content).where(schema.digests.c.key == key)
        with self.engine.connect() as connection:
            content = connection.scalar(query)
        return codec.digest_from_dict(content) if content is not None else None

    # A stored digest's share cards (cards.py).

    def share_card(self, digest_key: str, position: int, size: str) -> cards.StoredCard | None:
        return cards.share_card(self.engine, digest_key, position, size)

    def share_card_positions(self, digest_key: str, size: str) -> set[int]:
        return cards.share_card_positions(self.engine, digest_key, size)

    def save_share_card(
        self, digest_key: str, position: int, size: str, card: cards.StoredCard, *, now: datetime
    ) -> None:
        cards.save_share_card(self.engine, digest_key, position, size, card, now=now)

    def digest_keys(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.scalars(select(schema.digests.c.key).order_by("key")))

    def digest_summaries(self, *, window_start: datetime | None = None) -> list[DigestSummary]:
        """Every stored digest (or those whose window starts at `window_start`) without its
        content, newest window first (for lists of them)."""
        columns = schema.digests.c
        query = select(
            columns.key,
            columns.kind,
            columns.title,
            columns.window_start,
            columns.window_end,
            columns.status,
            columns.planned_at,
        ).order_by(columns.window_start.desc(), columns.kind.desc(), columns.key)
        if window_start is not None:
            query = query.where(columns.window_start == window_start)
        with self.engine.connect() as connection:
            return [
                DigestSummary(
                    key=row.key,
                    kind=DigestKind(row.kind),
                    title=row.title,
                    window_start=row.window_start,
                    window_end=row.window_end,
                    status=row.status,
                    planned_at=row.planned_at,
                )
                for row in connection.execute(query)
            ]

    def digest_approval(self, key: str) -> DigestApproval | None:
        """The editors' decision on a stored digest; None if not stored."""
        return self.digest_approvals([key]).get(key)

    def digest_approvals(self, keys: Collection[str]) -> dict[str, DigestApproval]:
        """`digest_approval` of each stored digest among `keys`, in one query (never a count
        of its outbox rows: a sent weekly has one per subscriber)."""
        columns = schema.digests.c
        query = select(
            columns.key,
            columns.status,
            columns.approved_by,
            columns.approved_at,
            columns.planned_at,
            columns.approved_hash,
        ).where(columns.key.in_(list(keys)))
        with self.engine.connect() as connection:
            return {
                row.key: DigestApproval(
                    key=row.key,
                    status=ApprovalStatus(row.status),
                    approved_by=row.approved_by,
                    approved_at=row.approved_at,
                    planned_at=row.planned_at,
                    approved_hash=row.approved_hash,
                )
                for row in connection.execute(query)
            }

    def planned_digest_keys(self) -> set[str]:
        """Digests planned for real recipients (test-sends aside): the ones that went public."""
        deliveries = schema.deliveries.c
        query = select(deliveries.digest_key).where(deliveries.is_test == false()).distinct()
        with self.engine.connect() as connection:
            return set(connection.scalars(query))

    def mark_digest_planned(self, key: str, at: datetime) -> None:
        """Record that the digest was released to its recipients (the first time only)."""
        statement = (
            update(schema.digests)
            .where(schema.digests.c.key == key, schema.digests.c.planned_at.is_(None))
            .values(planned_at=at)
        )
        with self.write() as connection:
            connection.execute(statement)

    def set_digest_approval(
        self,
        key: str,
        status: ApprovalStatus,
        *,
        by: str | None,
        at: datetime | None,
        content_hash: str | None = None,
        audit_actor: str | None = None,
    ) -> bool:
        """Record an editor's decision (approved: who, when, and the hash of the content they
        approved; otherwise all cleared), with its audit entry when `audit_actor` is given.

        False when no digest has that key. A hold clears the approval, so a digest approved
        and then held needs a new approval to go.
        """
        approved = status is ApprovalStatus.APPROVED
        columns = schema.digests.c
        statement = (
            update(schema.digests)
            .where(columns.key == key)
            .values(
                status=status.value,
                approved_by=by if approved else None,
                approved_at=at if approved else None,
                approved_hash=content_hash if approved else None,
            )
            .returning(columns.key)
        )
        with self.write() as connection:
            before = connection.scalar(select(columns.status).where(columns.key == key))
            found = connection.execute(statement).first() is not None
            if found and audit_actor is not None and at is not None:
                after = {"status": status.value}
                if approved:
                    after["content_hash"] = content_hash or ""
                audit.record(
                    connection,
                    at=at,
                    actor=audit_actor,
                    action=DECISION_ACTIONS[status],
                    subject=key,
                    before={"status": before},
                    after=after,
                )
            return found

    # --- helpers ------------------------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        return dialect_insert(self.engine, table)

    @staticmethod
    def _replace_item_companies(
        writer: BulkWriter, items: Sequence[NewsItem], existing: set[str]
    ) -> None:
        links = schema.item_companies
        # Only items that were there before can have old links to remove.
        replaced = sorted(existing.intersection(item.id for item in items))
        for chunk in _chunks(replaced):
            writer.connection.execute(delete(links).where(links.c.item_id.in_(chunk)))
        rows = [
            {"item_id": item.id, "company_slug": slug, "position": position}
            for item in items
            for position, slug in enumerate(item.companies)
        ]
        writer.insert(links, rows)

    def _write_error(self, part: str, exc: StatementError) -> Exception:
        """The user's error for a failed write; the transaction has been rolled back."""
        if isinstance(exc, OperationalError):
            return unreachable(self.engine.url, exc)
        if isinstance(exc, IntegrityError | DataError) or isinstance(
            exc.orig, ValueError | TypeError
        ):
            reason = first_line(exc.orig)
            message = f"breaks a rule of the database, nothing was written: {reason}"
            return InputError([Problem(where="database", record=part, field="", message=message)])
        return exc


# --- rows -----------------------------------------------------------------------------------


def _chunks(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _batches(values: Iterable[_T]) -> Iterator[list[_T]]:
    """Lists of CHUNK values from an iterable read once (a stream from disk)."""
    iterator = iter(values)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


def _company_key(company: Company) -> str:
    return company.slug


def _item_key(item: NewsItem) -> str:
    return item.id


def _read_key(read: AmwRead) -> str:
    return read.item_id


def _stored_companies(connection: Connection, slugs: list[str]) -> dict[str, Company]:
    query = select(schema.companies).where(schema.companies.c.slug.in_(slugs))
    return {row.slug: company_from_row(row) for row in connection.execute(query)}


def _day_start(moment: datetime, zone: tzinfo) -> datetime:
    """Midnight in `zone` of the day `moment` falls on there."""
    return datetime.combine(moment.astimezone(zone).date(), time(), tzinfo=zone)


def _stored_items(connection: Connection, ids: list[str]) -> dict[str, NewsItem]:
    items = schema.items
    rows = connection.execute(select(items).where(items.c.id.in_(ids))).all()
    if not rows:
        return {}
    return {item.id: item for item in items_from_rows(connection, rows)}


def _stored_reads(connection: Connection, item_ids: list[str]) -> dict[str, AmwRead]:
    query = select(schema.reads).where(schema.reads.c.item_id.in_(item_ids))
    return {row.item_id: read_from_row(row) for row in connection.execute(query)}


def _last_by(records: Iterable[_T], key: Callable[[_T], Hashable]) -> list[_T]:
    """One record per key, the last one given, in the order keys first appeared.

    A batch that names a record twice would otherwise make one statement hit a row twice.
    """
    by_key: dict[Hashable, _T] = {}
    for record in records:
        by_key[key(record)] = record
    return list(by_key.values())


def _existing(connection: Connection, column: Column[Any], keys: Sequence[Any]) -> set[Any]:
    found: set[Any] = set()
    for chunk in _chunks(list(keys)):
        found.update(connection.scalars(select(column).where(column.in_(chunk))))
    return found


def _like_escaped(words: str) -> str:
    """`words` for a LIKE pattern, its wildcards taken literally (escape character "\\")."""
    return words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} is naive: a time zone is required")


def _duplicate_email(subscriber: Subscriber, other_id: str) -> Problem:
    return Problem(
        where="subscribers",
        record=subscriber.id,
        field="email",
        message=f"{subscriber.email} is already the address of subscriber {other_id}",
    )


def _check_unique_emails(subscribers: Sequence[Subscriber]) -> None:
    """Two subscribers of one batch with the same address, in any case."""
    first: dict[str, str] = {}
    problems = []
    for subscriber in subscribers:
        other = first.setdefault(email_key(subscriber.email), subscriber.id)
        if other != subscriber.id:
            problems.append(_duplicate_email(subscriber, other))
    if problems:
        raise InputError(problems)


def _check_import(
    connection: Connection,
    batches: Callable[[], Iterable[tuple[Sequence[Subscriber], Mapping[str, Consent]]]],
) -> None:
    """InputError for the addresses of an import that stored subscribers have (unless the
    import moves them to another address), else for those the suppression list refuses."""
    taken: list[tuple[Subscriber, str]] = []
    suppressed: list[Problem] = []
    for subscribers, _ in batches():
        taken.extend(_emails_taken(connection, subscribers))
        suppressed.extend(subscriptions.suppressed_problems(connection, subscribers))
    if taken:
        # A stored subscriber the import also has is fine: it moves them to another address
        # (addresses within an import are unique).
        others = {other_id for _, other_id in taken}
        moved = {s.id for subscribers, _ in batches() for s in subscribers if s.id in others}
        duplicates = [_duplicate_email(s, other) for s, other in taken if other not in moved]
        if duplicates:
            raise InputError(duplicates)
    if suppressed:
        raise InputError(suppressed)


def _emails_taken(
    connection: Connection, subscribers: Sequence[Subscriber]
) -> list[tuple[Subscriber, str]]:
    """Each subscriber whose address a stored subscriber of another id has, with that id."""
    table = schema.subscribers
    wanted = {email_key(s.email): s for s in subscribers}
    taken = []
    for chunk in _chunks(sorted(wanted)):
        query = select(table.c.id, table.c.email_key).where(table.c.email_key.in_(chunk))
        for other_id, stored_key in connection.execute(query):
            subscriber = wanted[stored_key]
            if other_id != subscriber.id:
                taken.append((subscriber, other_id))
    return taken
