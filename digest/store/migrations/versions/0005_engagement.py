"""What readers did: raw click and open events, their hourly counts, the readers per digest.

Revision ID: 0005_engagement
Revises: 0004_outbox_in_flight
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0005_engagement"
down_revision: str | None = "0004_outbox_in_flight"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engagement_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("digest_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("link", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("reader_key", sa.String(32), nullable=False),
        sa.Column("subscriber_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_events")),
    )
    for column in ("at", "digest_key", "subscriber_id"):
        op.create_index(op.f(f"ix_engagement_events_{column}"), "engagement_events", [column])
    op.create_table(
        "engagement_counts",
        sa.Column("digest_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("link", sa.String(300), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "digest_key", "channel", "link", "hour", "kind", "verdict",
            name=op.f("pk_engagement_counts"),
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_engagement_counts_hour"), "engagement_counts", ["hour"])
    op.create_table(
        "engagement_readers",
        sa.Column("digest_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("reader_key", sa.String(32), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("subscriber_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint(
            "digest_key", "channel", "reader_key", name=op.f("pk_engagement_readers")
        ),
    )
    op.create_index(
        op.f("ix_engagement_readers_subscriber_id"), "engagement_readers", ["subscriber_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_engagement_readers_subscriber_id"), table_name="engagement_readers")
    op.drop_table("engagement_readers")
    op.drop_index(op.f("ix_engagement_counts_hour"), table_name="engagement_counts")
    op.drop_table("engagement_counts")
    for column in ("at", "digest_key", "subscriber_id"):
        op.drop_index(op.f(f"ix_engagement_events_{column}"), table_name="engagement_events")
    op.drop_table("engagement_events")
