"""The migration builds the schema that schema.py describes, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, select, text

from digest.models import DeliveryState
from digest.store import Store, profiles, schema
from digest.store.store import MIGRATIONS, newest_revision
from digest.store.tallies import tallies

TABLES = {
    "companies",
    "items",
    "item_companies",
    "reads",
    "subscribers",
    "digests",
    "deliveries",
    "suppressions",
    "rate_limits",
    "audit_log",
    "engagement_events",
    "engagement_counts",
    "engagement_readers",
    "api_tokens",
    "webhook_endpoints",
    "webhook_health",
    "webhook_events",
    "digest_edits",
    "editor_accounts",
    "editor_sessions",
    "topics",
    "feed_sources",
    "channel_tokens",
    "share_cards",
    "delivery_tallies",
    "subscriber_profiles",
}


def migrations() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgraded(database_url: str, before: str, fill: Callable[[Connection], object]) -> Engine:
    """A database migrated to `before`, filled by `fill`, then migrated to the head."""
    config = migrations()
    engine = create_engine(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, before)
        fill(connection)
        command.upgrade(config, "head")
    return engine


def head_revision() -> str:
    head = ScriptDirectory.from_config(migrations()).get_current_head()
    assert head is not None
    return head


def test_migration_creates_every_table(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert names == TABLES | {"alembic_version"}
    assert set(schema.metadata.tables) == TABLES


def test_migration_again_is_a_no_op(store: Store, database_url: str) -> None:
    with store.engine.connect() as connection:
        before = connection.scalar(text("SELECT version_num FROM alembic_version"))
    store.migrate()
    again = Store.open(database_url)
    try:
        with again.engine.connect() as connection:
            versions = connection.scalars(text("SELECT version_num FROM alembic_version")).all()
    finally:
        again.close()
    assert versions == [before] == [head_revision()]


def test_the_newest_revision_read_from_the_files_is_alembics_head() -> None:
    assert newest_revision() == head_revision()


def test_a_database_one_migration_behind_is_upgraded_on_open(database_url: str) -> None:
    config = migrations()
    engine = create_engine(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        command.downgrade(config, "-1")
    engine.dispose()
    store = Store.open(database_url)
    try:
        with store.engine.connect() as connection:
            version = connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        store.close()
    assert version == head_revision()


def test_migrated_database_matches_the_metadata(store: Store) -> None:
    def declared_here(item: object, name: str | None, kind: str, *_: object) -> bool:
        # Alembic ignores `ddl_if`: an index made on PostgreSQL alone is not missing on SQLite.
        postgresql_only = kind == "index" and name in schema.POSTGRESQL_ONLY_INDEXES
        return not (postgresql_only and store.engine.dialect.name != "postgresql")

    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": declared_here}
        )
        differences = compare_metadata(context, schema.metadata)
    assert differences == []


def test_indexes_and_constraints(store: Store) -> None:
    inspector = inspect(store.engine)
    indexed = {
        table: {tuple(index["column_names"]) for index in inspector.get_indexes(table)}
        for table in ("items", "item_companies", "deliveries")
    }
    assert ("published_at",) in indexed["items"]
    assert ("company_slug",) in indexed["item_companies"]
    assert {
        ("digest_key", "is_test", "channel", "state"),
        ("channel", "available_at", "id"),
        ("id",),  # the claimed rows (partial)
    } <= indexed["deliveries"]
    unique = {
        table: {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        for table in ("subscribers", "deliveries")
    }
    assert ("email_key",) in unique["subscribers"]
    assert ("idempotency_key",) in unique["deliveries"]
    checks = {check["name"] for check in inspector.get_check_constraints("reads")}
    assert checks == {"ck_reads_novelty", "ck_reads_significance"}
    foreign = inspector.get_foreign_keys("item_companies")
    by_column = {tuple(fk["constrained_columns"]): fk for fk in foreign}
    assert by_column[("item_id",)]["options"].get("ondelete") == "CASCADE"
    assert by_column[("company_slug",)]["referred_table"] == "companies"


def test_deliveries_columns_and_defaults(store: Store) -> None:
    columns = [column["name"] for column in inspect(store.engine).get_columns("deliveries")]
    assert columns == [
        "id",
        "idempotency_key",
        "digest_key",
        "channel",
        "target",
        "state",
        "payload",
        "attempts",
        "last_error",
        "provider_id",
        "is_test",
        "lease_owner",
        "lease_until",
        "available_at",
        "created_at",
        "updated_at",
        "finished_at",
        "in_flight_since",
        "unanswered",
    ]
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    table = schema.deliveries
    with store.write() as connection:
        # Through Core, with the Python-side defaults.
        connection.execute(
            table.insert(),
            [
                {"idempotency_key": "a", "digest_key": "weekly:2026-W48", "channel": "email",
                 "target": "s1", "available_at": now},
                {"idempotency_key": "b", "digest_key": "weekly:2026-W48", "channel": "social",
                 "target": "mastodon", "available_at": now},
            ],
        )  # fmt: skip
        # Through plain SQL, with the server-side defaults.
        connection.execute(
            text(
                "INSERT INTO deliveries (idempotency_key, digest_key, channel, target,"
                " available_at, created_at, updated_at)"
                " VALUES ('c', 'weekly:2026-W48', 'email', 's2', :now, :now, :now)"
            ),
            # Raw SQL bypasses UTCDateTime: give each backend its own stored form of UTC.
            {"now": now.replace(tzinfo=None) if store.engine.dialect.name == "sqlite" else now},
        )
    with store.engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.id)).all()
    assert [row.id for row in rows] == [1, 2, 3]
    for row in rows:
        assert (row.state, row.payload, row.attempts, row.is_test) == ("planned", {}, 0, False)
        assert row.available_at == now
        assert row.available_at.tzinfo is UTC
        assert row.created_at.tzinfo is UTC


def test_stores_opened_together_migrate_once(database_url: str) -> None:
    """Workers starting at the same moment on a fresh database do not race on the schema."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        stores = list(pool.map(lambda _: Store.open(database_url), range(4)))
    try:
        assert set(inspect(stores[0].engine).get_table_names()) == TABLES | {"alembic_version"}
    finally:
        for opened in stores:
            opened.close()


def test_the_topics_migration_fills_the_table_from_stored_items(database_url: str) -> None:
    """A store with items from before the topics table gets their topics in it."""

    def fill(connection: Connection) -> None:
        connection.execute(
            text(
                "INSERT INTO items (id, title, summary, url, published_at, category, topics,"
                " countries, hashtags, read_minutes, updated_at) VALUES ('i1', 't', 's',"
                " 'https://x', :when, 'c', :topics, '[]', '[]', 1, :when)"
            ),
            {
                "when": datetime(2026, 11, 30, tzinfo=UTC).replace(tzinfo=None),
                "topics": '["Geopolitics", "Open Models"]',
            },
        )

    engine = upgraded(database_url, "0002", fill)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, hashtag FROM topics ORDER BY name")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("Geopolitics", None), ("Open Models", None)]


def test_the_names_migration_splits_stored_names_only_where_unambiguous(database_url: str) -> None:
    """Subscribers stored before given and family names get them where their name says so."""

    def fill(connection: Connection) -> None:
        for number, name in enumerate(["Kowalski, Anna", "Claire Dubois", "李娜"]):
            connection.execute(
                text(
                    "INSERT INTO subscribers (id, email, email_key, name, status, timezone,"
                    " preferences, created_at, updated_at) VALUES (:id, :email, :email, :name,"
                    " 'active', 'UTC', '{}', :when, :when)"
                ),
                {
                    "id": f"s{number}",
                    "email": f"s{number}@example.com",
                    "name": name,
                    "when": datetime(2026, 11, 30),
                },
            )

    engine = upgraded(database_url, "0012_delivery_counts_index", fill)
    try:
        with engine.connect() as connection:
            query = text("SELECT name, given_name, family_name FROM subscribers ORDER BY id")
            rows = connection.execute(query).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("Anna Kowalski", "Anna", "Kowalski"),
        ("Claire Dubois", "Claire", "Dubois"),
        ("李娜", "", ""),
    ]


def test_rows_planned_before_the_upgrade_are_counted(database_url: str) -> None:
    def fill(connection: Connection) -> None:
        planned = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
        now = planned.replace(tzinfo=None) if connection.dialect.name == "sqlite" else planned
        for number, (state, is_test) in enumerate(
            [("sent", False), ("sent", False), ("failed", False), ("sent", True)]
        ):
            connection.execute(
                text(
                    "INSERT INTO deliveries (idempotency_key, digest_key, channel, target, state,"
                    " payload, attempts, is_test, available_at, created_at, updated_at,"
                    " unanswered) VALUES (:key, :digest, 'email', :target, :state, '{}', 1,"
                    " :is_test, :now, :now, :now, 0)"
                ),
                {
                    "key": f"k{number}",
                    "digest": "weekly:2026-W48",
                    "target": f"s{number}",
                    "state": state,
                    "is_test": is_test,
                    "now": now,
                },
            )

    engine = upgraded(database_url, "0015_outbox_held_by_id", fill)
    try:
        found = {(t.state, t.rows) for t in tallies(engine, ["weekly:2026-W48"])}
    finally:
        engine.dispose()
    assert found == {(DeliveryState.SENT, 2), (DeliveryState.FAILED, 1)}


def test_subscribers_stored_before_the_upgrade_are_counted_by_profile(database_url: str) -> None:
    def fill(connection: Connection) -> None:
        now = datetime(2026, 11, 30, 7, 0)
        for number, (status, zone, preferences) in enumerate(
            [
                ("active", "UTC", '{"weekly": true, "send_hour": 8}'),
                ("active", "UTC", '{"weekly": true, "send_hour": 8}'),
                ("active", "Asia/Tokyo", '{"weekly": true, "send_hour": 8}'),
                ("active", "UTC", '{"weekly": false, "companies": ["nvidia"]}'),
                ("unsubscribed", "UTC", '{"weekly": true, "send_hour": 8}'),
                ("pending", "UTC", '{"weekly": true, "send_hour": 8}'),
            ]
        ):
            connection.execute(
                text(
                    "INSERT INTO subscribers (id, email, email_key, name, status, timezone,"
                    " preferences, created_at, updated_at) VALUES (:id, :email, :email, '',"
                    " :status, :zone, :preferences, :now, :now)"
                ),
                {
                    "id": f"s{number}",
                    "email": f"s{number}@example.com",
                    "status": status,
                    "zone": zone,
                    "preferences": preferences,
                    "now": now,
                },
            )

    engine = upgraded(database_url, "0016_delivery_tallies", fill)
    try:
        found = {
            (alike.timezone, alike.preferences.weekly, alike.preferences.companies): number
            for alike, number in profiles.active_profiles(engine)
        }
    finally:
        engine.dispose()
    assert found == {
        ("UTC", True, ()): 2,
        ("Asia/Tokyo", True, ()): 1,
        ("UTC", False, ("nvidia",)): 1,
    }
