"""Dead row versions out of the outbox, on PostgreSQL: the scheduler's upkeep vacuums it hourly.

Every message sent leaves dead versions of its row behind: its claim and its result change the
state, an indexed column, so they are new versions with new index entries (the in-flight mark
and lease renewals change no indexed column: HOT updates, pruned from their page without a
VACUUM). Autovacuum cannot be relied on to clear the rest: a server may run with it off (the
CI server here does: /etc/postgresql/15/main/conf.d/90-ci.conf), and then no per-table setting
(migration 0004's) brings it back, since the launcher does not run at all. So the outbox is
vacuumed, and analysed, by the store's own upkeep: cheap when little changed (pages all visible
are skipped), and the planner's statistics follow a table that grows by a whole audience at
every send. SQLite reuses the pages of deleted rows itself and rewrites a row in place.
"""

from __future__ import annotations

from sqlalchemy import Engine, text


def vacuum(engine: Engine) -> bool:
    """VACUUM (ANALYZE) the outbox on PostgreSQL (outside any transaction, as VACUUM must be);
    whether it ran."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) deliveries"))
    return True
