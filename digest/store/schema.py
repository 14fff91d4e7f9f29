"""The tables, as SQLAlchemy Core objects.

The database itself is created and changed only by the Alembic migrations in `migrations/`;
these objects describe it for queries, and a test checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

from digest.store.types import JSONDocument, UTCDateTime

# Deterministic constraint names, so that a later migration can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The clock, for bookkeeping columns only (created_at, updated_at), never for content."""
    return datetime.now(UTC)


companies = Table(
    "companies",
    metadata,
    Column("slug", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("sector", String, nullable=False),
    Column("country", String(8), nullable=False),
    Column("hashtag", String, nullable=False),
    Column("profile_url", String, nullable=True),
)

items = Table(
    "items",
    metadata,
    Column("id", String, primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("url", String, nullable=False),
    Column("published_at", UTCDateTime, nullable=False, index=True),
    Column("category", String, nullable=False),
    Column("topics", JSONDocument, nullable=False),
    Column("countries", JSONDocument, nullable=False),
    Column("region", String, nullable=True),
    Column("hashtags", JSONDocument, nullable=False),
    Column("image_url", String, nullable=True),
    Column("read_minutes", Integer, nullable=False),
    Column("source", String, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    Column("page_url", String, nullable=True),  # the site's own page; `url` is the source
)

item_companies = Table(
    "item_companies",
    metadata,
    Column("item_id", String, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("company_slug", String, ForeignKey("companies.slug"), primary_key=True, index=True),
    # The order of NewsItem.companies: the first is the item's main company.
    Column("position", Integer, nullable=False),
)

reads = Table(
    "reads",
    metadata,
    Column("item_id", String, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("text", Text, nullable=False),
    Column("novelty", Integer, nullable=False),
    Column("significance", Integer, nullable=False),
    Column("refs", JSONDocument, nullable=False),  # [{"ref": ..., "label": ... or null}, ...]
    CheckConstraint("novelty BETWEEN 1 AND 5", name="novelty"),
    CheckConstraint("significance BETWEEN 1 AND 5", name="significance"),
    Column("social", Text, nullable=True),  # an editor's line for social posts
)

# Every topic an item names, with the hashtag an input declared for it (None: derive one).
topics = Table(
    "topics",
    metadata,
    Column("name", String, primary_key=True),
    Column("hashtag", String, nullable=True),
)

# The feeds `schedules.ingest` pulls: the validators of the last version read (sent back as
# If-None-Match and If-Modified-Since), and when it was last read and last changed anything.
feed_sources = Table(
    "feed_sources",
    metadata,
    Column("url", String, primary_key=True),
    Column("etag", String, nullable=True),
    Column("last_modified", String, nullable=True),
    Column("checked_at", UTCDateTime, nullable=True),
    Column("changed_at", UTCDateTime, nullable=True),
)

# The tokens a social channel renews itself (X's OAuth 2 pair), newest first-hand: the next run
# and every worker use them. `origin` fingerprints the refresh token in settings.yaml they
# descend from: a new one there (the app authorised again) makes the stored pair stale.
channel_tokens = Table(
    "channel_tokens",
    metadata,
    Column("channel", String, primary_key=True),
    Column("origin", String(64), nullable=False),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    Column("renewed_at", UTCDateTime, nullable=False),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", String, primary_key=True),
    Column("email", String, nullable=False),
    # The lower-cased address: two spellings of one address are one subscriber.
    Column("email_key", String, nullable=False, unique=True),
    Column("name", String, nullable=False),  # as addressed in the To: header
    # The parts of the name, when known ("" otherwise): greetings use the given name.
    Column("given_name", String, nullable=False, server_default=""),
    Column("family_name", String, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("preferences", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    Column("confirmed_at", UTCDateTime, nullable=True),  # double opt-in completed
    Column("unsubscribed_at", UTCDateTime, nullable=True),
    # When they opted in, as the list they were imported from says (null: not known).
    Column("opted_in_at", UTCDateTime, nullable=True),
    # A re-import keeps preferences the subscriber changed themself after the last import
    # wrote them (see Store.save_subscribers).
    Column("preferences_changed_at", UTCDateTime, nullable=True),
    Column("preferences_imported_at", UTCDateTime, nullable=True),
)
# The editor searches subscribers by the start of their address, a range over email_key that
# compares characters, not a locale's collation (which ignores punctuation): PostgreSQL's pattern
# operators need this index; SQLite compares bytes and its unique index serves.
Index(
    "ix_subscribers_email_key_pattern",
    subscribers.c.email_key,
    postgresql_ops={"email_key": "varchar_pattern_ops"},
).ddl_if(dialect="postgresql")
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_subscribers_email_key_pattern"})

# Addresses that must never be mailed again, kept only as the SHA-256 of the lower-cased address,
# so a forgotten subscriber leaves nothing readable behind.
suppressions = Table(
    "suppressions",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("reason", String(16), nullable=False),  # unsubscribed | bounced | complained | forgotten
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

digests = Table(
    "digests",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("generated_at", UTCDateTime, nullable=False),
    Column("content", JSONDocument, nullable=False),  # codec.digest_to_dict of the whole Digest
    # draft | held | approved: a kind with require_approval is sent only once approved.
    Column("status", String(16), nullable=False, default="draft", server_default="draft"),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("approved_by", String, nullable=True),
    Column("approved_at", UTCDateTime, nullable=True),
    # When it was released to its recipients: its rows planned (none, if nobody wants it).
    Column("planned_at", UTCDateTime, nullable=True),
    # codec.content_hash of the content as approved: a send goes only with that content.
    Column("approved_hash", String(64), nullable=True),
)

# The share cards of a stored digest's entries (render/cards.py), one row per entry and size:
# fixed once stored, like the digest itself, and read by the workers that upload them and the
# web app that serves them, wherever each runs.
share_cards = Table(
    "share_cards",
    metadata,
    Column(
        "digest_key",
        String(200),
        ForeignKey("digests.key", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),  # the entry's, from 1, in the digest's order
    Column("size", String(16), primary_key=True),  # "1200x675"
    Column("png", LargeBinary, nullable=False),
    Column("alt", Text, nullable=False),  # what the card says, for screen readers
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

# An editor's change set for a digest (compose/edits.py's ChangeSet.to_dict), kept apart from the
# snapshot: a digest composed on the fly, not stored yet, has its edits too.
digest_edits = Table(
    "digest_edits",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("changes", JSONDocument, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),  # an audit actor, "editor:Ada"
)

# People who use the editor (store/accounts.py): a role each, a memory-hard password hash.
editor_accounts = Table(
    "editor_accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),  # what they log in with
    Column("email", String(254), nullable=False),
    Column("role", String(16), nullable=False),  # marketing | editor | admin
    Column("password_hash", String(200), nullable=False),  # argon2id, PHC string
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=True),
)

# Logged-in browsers: the cookie holds a random token, the table only its SHA-256, so logging out,
# a password change or an admin ends a session at once, on every process.
editor_sessions = Table(
    "editor_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    # NULL: a session opened with the bootstrap token (web.editor.token), acting as an admin.
    Column(
        "account_id",
        Integer,
        ForeignKey("editor_accounts.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("client", String(64), nullable=False),  # the address it logged in from
    Column("flash", Text, nullable=True),  # what the last change did, shown on the next page
)

deliveries = Table(
    "deliveries",
    metadata,
    # BIGINT on PostgreSQL; plain INTEGER on SQLite, where only that is the rowid alias that
    # autoincrements.
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("digest_key", String(200), nullable=False),
    Column("channel", String(16), nullable=False),  # "email" | "social"
    Column("target", String(200), nullable=False),  # subscriber id or social channel name
    Column("state", String(16), nullable=False, default="planned", server_default="planned"),
    Column("payload", JSONDocument, nullable=False, default=dict, server_default=text("'{}'")),
    Column("attempts", Integer, nullable=False, default=0, server_default=text("0")),
    Column("last_error", Text, nullable=True),
    Column("provider_id", String(300), nullable=True),
    Column("is_test", Boolean, nullable=False, default=False, server_default=false()),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column(
        "available_at", UTCDateTime, nullable=False, default=utcnow
    ),  # when it may next be tried
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    Column("finished_at", UTCDateTime, nullable=True),
    # When the row was handed to the service (None: not now); a worker that dies leaves it set.
    Column("in_flight_since", UTCDateTime, nullable=True),
    # Attempts handed to the service that never got its answer (a dropped connection, a dead
    # worker): an unknown outcome is sent again only so many times, then held.
    Column("unanswered", Integer, nullable=False, default=0, server_default=text("0")),
    # A digest's rows by channel and state, counted from the index alone (schedule/status.py).
    Index(
        "ix_deliveries_digest_key_is_test_channel_state",
        "digest_key",
        "is_test",
        "channel",
        "state",
    ),
    # Partial indexes: only the rows waiting or leased now, never the sent millions, so that a
    # claim costs the same with ten thousand rows waiting as with a million.
    Index(
        "ix_deliveries_due",
        "channel",
        "available_at",
        "id",
        sqlite_where=text("state = 'planned'"),
        postgresql_where=text("state = 'planned'"),
    ),
    # The posts by their slot, for the editor's calendar: social rows only, a few per digest.
    Index(
        "ix_deliveries_posts",
        "available_at",
        sqlite_where=text("channel = 'social'"),
        postgresql_where=text("channel = 'social'"),
    ),
    # The rows workers hold now, by id (migration 0015 says why not by lease_until).
    Index(
        "ix_deliveries_held",
        "id",
        sqlite_where=text("state = 'claimed'"),
        postgresql_where=text("state = 'claimed'"),
    ),
)

# The real (not test) outbox rows of each digest, counted: the editor's pages and reports read
# these few rows instead of counting a million deliveries per request. Triggers on `deliveries`
# keep them (migration 0016): the store's own writes cannot miss one. `target` is a social row's
# channel ("" for email: one count for all subscribers). `writer` is the PostgreSQL backend that
# wrote the count (0 on SQLite, which has one writer): each backend adds to its own rows, so
# workers never wait on one another's counts; a count is the sum over writers.
delivery_tallies = Table(
    "delivery_tallies",
    metadata,
    Column("digest_key", String(200), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("available_at", UTCDateTime, primary_key=True),
    Column("target", String(200), primary_key=True),
    Column("writer", Integer, primary_key=True),
    Column("rows", BigInteger, nullable=False),
)

# The active subscribers counted by what a digest's audience and due times depend on: their time
# zone and preferences (a profile). Triggers on `subscribers` keep them (migration 0017), so an
# editor's forecast reads a few thousand rows, not a million subscribers. `profile` is the key
# of the pair (its text on SQLite, its MD5 on PostgreSQL); `writer` as in delivery_tallies,
# folded back into 0 by the purge job; a count is the sum over writers.
subscriber_profiles = Table(
    "subscriber_profiles",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("writer", Integer, primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("preferences", JSONDocument, nullable=False),
    Column("subscribers", BigInteger, nullable=False),
)

# Rate-limit counters shared by every process (the `limits` library's storage, store/ratelimits.py):
# one fixed window per key, counted from its first hit until `expires_at`.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# Who did what, when: every change an editor, a marketer or an API token makes (store/audit.py).
audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),  # "editor:Quinn Editor", "token:cms"
    Column("action", String(64), nullable=False),  # "digest.approve", "post.edit", …
    Column("subject", String(300), nullable=False, index=True),  # a digest key, "delivery:12", …
    Column("before", JSONDocument, nullable=True),
    Column("after", JSONDocument, nullable=True),
)

# What readers did (digest/engagement/). Raw events are kept `tracking.raw_days`; the hourly
# counts and the set of readers per digest stay. A reader is a keyed hash (of the subscriber with
# tracking.per_subscriber, else of the client's address, browser and day): never an address.
engagement_events = Table(
    "engagement_events",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("digest_key", String(200), nullable=False, index=True),
    Column("channel", String(100), nullable=False),  # "email" or a social channel's name
    Column("link", String(300), nullable=False),  # "item:ID", "post:KEY", "open", …
    Column("kind", String(8), nullable=False),  # click | open
    Column("verdict", String(16), nullable=False),  # reader | scanner | prefetch
    Column("reason", String(32), nullable=False),  # the rule that decided ("" for a reader)
    Column("reader_key", String(32), nullable=False),
    Column("subscriber_id", String, nullable=True, index=True),  # only with per_subscriber
)

engagement_counts = Table(
    "engagement_counts",
    metadata,
    Column("digest_key", String(200), primary_key=True),
    Column("channel", String(100), primary_key=True),
    Column("link", String(300), primary_key=True),
    Column("hour", UTCDateTime, primary_key=True, index=True),  # the hour's start, UTC
    Column("kind", String(8), primary_key=True),
    Column("verdict", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
)

engagement_readers = Table(
    "engagement_readers",
    metadata,
    Column("digest_key", String(200), primary_key=True),
    Column("channel", String(100), primary_key=True),
    Column("reader_key", String(32), primary_key=True),
    Column("first_at", UTCDateTime, nullable=False),
    Column("subscriber_id", String, nullable=True, index=True),  # only with per_subscriber
)


# API tokens (store/api_tokens.py): only the SHA-256 of each token is kept; a revoked token stays
# (its name is in the audit log) until a new token is created under that name.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),  # the token's first characters, to recognise it
    Column("scopes", JSONDocument, nullable=False),  # ["items:write", ...]
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# Outgoing webhooks: endpoints made through the API (those of settings.yaml are not stored), the
# health of every endpoint (failures in a row, paused until), and the events to fan out to them.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),  # "whsec_…": needed to sign, so not hashed
    Column("events", JSONDocument, nullable=False),  # [] is every event
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
)

webhook_health = Table(
    "webhook_health",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),  # failed attempts in a row
    Column("paused_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("event_id", String(40), nullable=False, unique=True),  # "evt_…", the webhook-id
    # What makes an event happen once ("digest.sent/weekly:2026-W48"): emitting it again adds
    # nothing.
    Column("key", String(300), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    # Whom it is about ("subscriber:sub-001", a digest key): forgetting a subscriber deletes theirs.
    Column("subject", String(300), nullable=False, index=True),
    Column("data", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("fanned_out_at", UTCDateTime, nullable=True, index=True),  # rows planned per endpoint
)
