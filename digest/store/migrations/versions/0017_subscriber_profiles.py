"""The active subscribers counted by profile (time zone and preferences), kept by triggers.

An editor's page of a digest not planned yet forecasts when its emails would fall due, which
depends on each active subscriber's time zone and preferences only: grouping a million
subscribers by those took a second on SQLite and three on PostgreSQL, per request. These counts
are the same grouping, a few thousand rows.

Triggers keep them, as they keep `delivery_tallies` (0016), so that no write of a subscriber
(sign-up, confirmation, preferences, unsubscribe, bounce, import, forgetting, purge) can miss
one. A profile's key is its time zone and preferences as text (on PostgreSQL their MD5: a
subscriber following many companies makes a long key, past what a B-tree entry may hold). On
SQLite a row trigger adds to the one count. On PostgreSQL a statement trigger adds a whole
statement's changes at once to rows of its own backend (`writer`), so that an import's long
transaction never holds up an unsubscribe; `Store.fold_subscriber_profiles` (the purge job)
folds them back into writer 0.

Revision ID: 0017_subscriber_profiles
Revises: 0016_delivery_tallies
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import JSONDocument

revision: str = "0017_subscriber_profiles"
down_revision: str | None = "0016_delivery_tallies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "profile, writer, timezone, preferences, subscribers"


def sqlite_profile(row: str) -> str:
    return f"{row}.timezone || char(10) || {row}.preferences"


def sqlite_add(row: str) -> str:
    return (
        f"INSERT INTO subscriber_profiles ({COLUMNS}) SELECT {sqlite_profile(row)}, 0, "
        f"{row}.timezone, {row}.preferences, 1 WHERE {row}.status = 'active' "
        "ON CONFLICT (profile, writer) DO UPDATE SET subscribers = subscribers + 1;"
    )


def sqlite_remove(row: str) -> str:
    return (
        "UPDATE subscriber_profiles SET subscribers = subscribers - 1 "
        f"WHERE profile = {sqlite_profile(row)} AND writer = 0 AND {row}.status = 'active';"
    )


SQLITE_MOVED = " OR ".join(
    f"OLD.{column} IS NOT NEW.{column}" for column in ("status", "timezone", "preferences")
)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER subscriber_profiles_insert AFTER INSERT ON subscribers "
    f"BEGIN {sqlite_add('NEW')} END",
    "CREATE TRIGGER subscriber_profiles_delete AFTER DELETE ON subscribers "
    f"BEGIN {sqlite_remove('OLD')} END",
    "CREATE TRIGGER subscriber_profiles_update AFTER UPDATE OF status, timezone, preferences "
    f"ON subscribers WHEN {SQLITE_MOVED} BEGIN {sqlite_remove('OLD')} {sqlite_add('NEW')} END",
)

POSTGRESQL_PROFILE = "md5(timezone || E'\\n' || preferences::text)"


def postgresql_changes(table: str, sign: int) -> str:
    return f"SELECT timezone, preferences, {sign} AS change FROM {table} WHERE status = 'active'"


def postgresql_apply(changes: str) -> str:
    return f"""
        INSERT INTO subscriber_profiles AS p ({COLUMNS})
        SELECT {POSTGRESQL_PROFILE}, pg_backend_pid(), timezone, preferences, sum(change)
        FROM ({changes}) AS changes
        GROUP BY timezone, preferences
        HAVING sum(change) <> 0
        ON CONFLICT (profile, writer)
        DO UPDATE SET subscribers = p.subscribers + excluded.subscribers;
    """


ADDED = postgresql_apply(postgresql_changes("new_rows", 1))
REMOVED = postgresql_apply(postgresql_changes("old_rows", -1))
MOVED = postgresql_apply(
    postgresql_changes("old_rows", -1) + " UNION ALL " + postgresql_changes("new_rows", 1)
)
# One function for the three statement triggers: each branch reads only the transition tables
# its trigger declares. (PostgreSQL allows no column list on a trigger with transition tables:
# every UPDATE of subscribers runs it, and a change of name alone adds nothing.)
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION subscriber_profiles_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {ADDED}
    ELSIF TG_OP = 'DELETE' THEN
        {REMOVED}
    ELSE
        {MOVED}
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGERS = (
    POSTGRESQL_FUNCTION,
    "CREATE TRIGGER subscriber_profiles_insert AFTER INSERT ON subscribers "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION subscriber_profiles_count()",
    "CREATE TRIGGER subscriber_profiles_delete AFTER DELETE ON subscribers "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION subscriber_profiles_count()",
    "CREATE TRIGGER subscriber_profiles_update AFTER UPDATE ON subscribers "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION subscriber_profiles_count()",
)


def upgrade() -> None:
    op.create_table(
        "subscriber_profiles",
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("writer", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("preferences", JSONDocument, nullable=False),
        sa.Column("subscribers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("profile", "writer", name="pk_subscriber_profiles"),
    )
    # The triggers first: on PostgreSQL creating them locks out other writers of subscribers
    # until this transaction ends, so the rows counted below are all there are.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_TRIGGERS if sqlite else POSTGRESQL_TRIGGERS:
        op.execute(statement)
    profile = sqlite_profile("subscribers") if sqlite else POSTGRESQL_PROFILE
    op.execute(
        f"INSERT INTO subscriber_profiles ({COLUMNS}) "
        f"SELECT {profile}, 0, timezone, preferences, count(*) FROM subscribers "
        "WHERE status = 'active' GROUP BY timezone, preferences"
    )


def downgrade() -> None:
    for name in ("insert", "delete", "update"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER subscriber_profiles_{name}")
        else:
            op.execute(f"DROP TRIGGER subscriber_profiles_{name} ON subscribers")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION subscriber_profiles_count()")
    op.drop_table("subscriber_profiles")
