"""Each digest's real outbox rows counted, kept by triggers: delivery_tallies.

The editor's digest page, the calendar and the reports counted a digest's rows per request: a
sent weekly has one per subscriber, and counting a million of them from an index takes 70 to
800 ms on SQLite, several counts a page. The tallies hold the same counts, by digest, channel,
state, due time and (for posts) social channel, a few rows a digest.

Triggers keep them, so that no write of the outbox (planning, claims, results, leases, purges)
can miss one. On SQLite, a row trigger adds to the one count (SQLite has one writer at a time).
On PostgreSQL, a statement trigger adds a whole statement's changes at once, to rows of its own
backend (`writer`): several workers never wait for each other's counts nor deadlock on them.
Test-sends are not counted: no page counts them. A count that falls to zero stays (readers skip
it): removing it cost the outbox's writes a statement more each; there are at most as many as
a digest has states, due times and writers.

Revision ID: 0016_delivery_tallies
Revises: 0015_outbox_held_by_id
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0016_delivery_tallies"
down_revision: str | None = "0015_outbox_held_by_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "digest_key, channel, state, available_at, target, writer"
COLUMNS = f"{KEY}, rows"


def tally_target(row: str) -> str:
    """A social row's channel; "" for every email row (one count for all subscribers)."""
    return f"CASE WHEN {row}channel = 'email' THEN '' ELSE {row}target END"


def sqlite_key_of(row: str) -> str:
    return (
        f"digest_key = {row}.digest_key AND channel = {row}.channel AND state = {row}.state "
        f"AND available_at = {row}.available_at AND target = {tally_target(row + '.')} "
        "AND writer = 0"
    )


def sqlite_add(row: str) -> str:
    return (
        f"INSERT INTO delivery_tallies ({COLUMNS}) SELECT {row}.digest_key, {row}.channel, "
        f"{row}.state, {row}.available_at, {tally_target(row + '.')}, 0, 1 "
        f"WHERE NOT {row}.is_test ON CONFLICT ({KEY}) DO UPDATE SET rows = rows + 1;"
    )


def sqlite_remove(row: str) -> str:
    return (
        f"UPDATE delivery_tallies SET rows = rows - 1 WHERE {sqlite_key_of(row)} "
        f"AND NOT {row}.is_test;"
    )


# What an UPDATE must change for a row to move to another count.
SQLITE_MOVED = " OR ".join(
    f"OLD.{column} IS NOT NEW.{column}"
    for column in ("digest_key", "channel", "state", "available_at", "target", "is_test")
)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER delivery_tallies_insert AFTER INSERT ON deliveries "
    f"BEGIN {sqlite_add('NEW')} END",
    "CREATE TRIGGER delivery_tallies_delete AFTER DELETE ON deliveries "
    f"BEGIN {sqlite_remove('OLD')} END",
    "CREATE TRIGGER delivery_tallies_update AFTER UPDATE OF "
    "digest_key, channel, state, available_at, target, is_test ON deliveries "
    f"WHEN {SQLITE_MOVED} BEGIN {sqlite_remove('OLD')} {sqlite_add('NEW')} END",
)


def postgresql_changes(table: str, sign: int) -> str:
    return (
        f"SELECT digest_key, channel, state, available_at, {tally_target('')} AS target, "
        f"{sign} AS change FROM {table} WHERE NOT is_test"
    )


def postgresql_apply(changes: str) -> str:
    return f"""
        INSERT INTO delivery_tallies AS t ({COLUMNS})
        SELECT digest_key, channel, state, available_at, target, pg_backend_pid(), sum(change)
        FROM ({changes}) AS changes
        GROUP BY digest_key, channel, state, available_at, target
        HAVING sum(change) <> 0
        ON CONFLICT ({KEY}) DO UPDATE SET rows = t.rows + excluded.rows;
    """


ADDED = postgresql_apply(postgresql_changes("new_rows", 1))
REMOVED = postgresql_apply(postgresql_changes("old_rows", -1))
MOVED_PG = postgresql_apply(
    postgresql_changes("old_rows", -1) + " UNION ALL " + postgresql_changes("new_rows", 1)
)
# One function for the three statement triggers: each branch reads only the transition tables
# its trigger declares.
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION delivery_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {ADDED}
    ELSIF TG_OP = 'DELETE' THEN
        {REMOVED}
    ELSE
        {MOVED_PG}
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGERS = (
    POSTGRESQL_FUNCTION,
    "CREATE TRIGGER delivery_tallies_insert AFTER INSERT ON deliveries "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION delivery_tallies_count()",
    "CREATE TRIGGER delivery_tallies_delete AFTER DELETE ON deliveries "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION delivery_tallies_count()",
    "CREATE TRIGGER delivery_tallies_update AFTER UPDATE ON deliveries "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION delivery_tallies_count()",
)


def upgrade() -> None:
    op.create_table(
        "delivery_tallies",
        sa.Column("digest_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("writer", sa.Integer(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY.split(", "), name="pk_delivery_tallies"),
    )
    # The triggers first: on PostgreSQL creating them locks out other writers of deliveries
    # until this transaction ends, so the rows counted below are all there are.
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS
    for statement in triggers:
        op.execute(statement)
    op.execute(
        f"INSERT INTO delivery_tallies ({COLUMNS}) "
        f"SELECT digest_key, channel, state, available_at, {tally_target('')}, 0, count(*) "
        "FROM deliveries WHERE NOT is_test "
        f"GROUP BY digest_key, channel, state, available_at, {tally_target('')}"
    )


def downgrade() -> None:
    for name in ("insert", "delete", "update"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER delivery_tallies_{name}")
        else:
            op.execute(f"DROP TRIGGER delivery_tallies_{name} ON deliveries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION delivery_tallies_count()")
    op.drop_table("delivery_tallies")
