"""Subscription life and digest approval: confirmation and unsubscribe times, the suppression
list (addresses kept only as hashes), and who approved a digest and when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("confirmed_at", UTCDateTime(), nullable=True))
    op.add_column("subscribers", sa.Column("unsubscribed_at", UTCDateTime(), nullable=True))
    op.create_table(
        "suppressions",
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("email_hash", name=op.f("pk_suppressions")),
    )
    op.add_column("digests", sa.Column("approved_by", sa.String(), nullable=True))
    op.add_column("digests", sa.Column("approved_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("digests", "approved_at")
    op.drop_column("digests", "approved_by")
    op.drop_table("suppressions")
    op.drop_column("subscribers", "unsubscribed_at")
    op.drop_column("subscribers", "confirmed_at")
