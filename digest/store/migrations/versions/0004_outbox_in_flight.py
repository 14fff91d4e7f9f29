"""The outbox's in-flight mark becomes a column (it was a prefix of last_error), unanswered
attempts are counted, and the due and leased rows get partial indexes of their own.

Revision ID: 0004_outbox_in_flight
Revises: 0003_rate_limits_audit
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0004_outbox_in_flight"
down_revision: str | None = "0003_rate_limits_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FLIGHT = "in flight: handed to the service"  # the old mark, as 0002's code wrote it
WORKER_DIED = "the previous attempt's worker died while the service had it; sent again"

# PostgreSQL: every message sent leaves dead row versions behind (its claim, its in-flight
# mark, its result). Vacuum the outbox after 1% of its rows changed, not the default 20%, and
# without the cost delay, so that a million-row send never leaves a claim stepping over hundreds
# of thousands of dead index entries; analyse often so the planner keeps to the partial index.
AUTOVACUUM = (
    "autovacuum_vacuum_scale_factor = 0.01",
    "autovacuum_vacuum_threshold = 2000",
    "autovacuum_vacuum_cost_delay = 0",
    "autovacuum_analyze_scale_factor = 0.02",
)


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("in_flight_since", UTCDateTime(), nullable=True))
    op.add_column(
        "deliveries",
        sa.Column("unanswered", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    deliveries = sa.table(
        "deliveries",
        sa.column("last_error", sa.Text()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("in_flight_since", UTCDateTime()),
        sa.column("unanswered", sa.Integer()),
    )
    op.execute(
        deliveries.update()
        .where(deliveries.c.last_error.startswith(IN_FLIGHT, autoescape=True))
        .values(in_flight_since=deliveries.c.updated_at, last_error=None)
    )
    op.execute(
        deliveries.update().where(deliveries.c.last_error == WORKER_DIED).values(unanswered=1)
    )
    op.drop_index("ix_deliveries_state_available_at", table_name="deliveries")
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["channel", "available_at", "id"],
        sqlite_where=sa.text("state = 'planned'"),
        postgresql_where=sa.text("state = 'planned'"),
    )
    op.create_index(
        "ix_deliveries_leased",
        "deliveries",
        ["lease_until"],
        sqlite_where=sa.text("state = 'claimed'"),
        postgresql_where=sa.text("state = 'claimed'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE deliveries SET ({', '.join(AUTOVACUUM)})")


def downgrade() -> None:
    deliveries = sa.table(
        "deliveries",
        sa.column("last_error", sa.Text()),
        sa.column("in_flight_since", UTCDateTime()),
    )
    op.execute(
        deliveries.update()
        .where(deliveries.c.in_flight_since.is_not(None))
        .values(last_error=IN_FLIGHT)
    )
    if op.get_bind().dialect.name == "postgresql":
        names = ", ".join(setting.split(" = ")[0] for setting in AUTOVACUUM)
        op.execute(f"ALTER TABLE deliveries RESET ({names})")
    op.drop_index("ix_deliveries_leased", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_state_available_at", "deliveries", ["state", "available_at"])
    op.drop_column("deliveries", "unanswered")
    op.drop_column("deliveries", "in_flight_since")
