"""The leased rows' partial index is keyed by id, not lease_until; the outbox leaves room on
its pages (PostgreSQL).

Closing a row and marking rows in flight look rows up by id among the claimed ones. With the
claimed rows indexed by lease_until, PostgreSQL's planner took that small partial index for them
(it looks cheapest while the statistics say few rows are claimed) and read every claimed row for
each row closed: with 4 workers holding 200-400 rows each, about a thousand rows per answer, the
cost of an answer growing with the number of workers. Keyed by id, the same lookups are one
index probe, and lease_until is in no index, so renewing a lease changes no indexed column: on
PostgreSQL it is a HOT update (no new index entries), as the in-flight mark already is. The
rarer statements that look for ended leases (a claim's take-over) read the claimed rows, which
are at most the workers' batches.

fillfactor 80: rows are written once by planning and then updated three times or more (claim,
in-flight mark, result); room on each page lets an updated row stay on its page, which a HOT
update needs, and PostgreSQL then prunes the page's dead versions without a VACUUM.

Revision ID: 0015_outbox_held_by_id
Revises: 0014_subscriber_consent
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_outbox_held_by_id"
down_revision: str | None = "0014_subscriber_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMED = sa.text("state = 'claimed'")


def upgrade() -> None:
    op.drop_index("ix_deliveries_leased", table_name="deliveries")
    op.create_index(
        "ix_deliveries_held", "deliveries", ["id"], sqlite_where=CLAIMED, postgresql_where=CLAIMED
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
    op.drop_index("ix_deliveries_held", table_name="deliveries")
    op.create_index(
        "ix_deliveries_leased",
        "deliveries",
        ["lease_until"],
        sqlite_where=CLAIMED,
        postgresql_where=CLAIMED,
    )
