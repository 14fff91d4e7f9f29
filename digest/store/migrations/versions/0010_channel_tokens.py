"""The tokens a social channel renews itself (X's OAuth 2 access and refresh tokens).

Revision ID: 0010_channel_tokens
Revises: 0009_ingest_topics_feeds
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0010_channel_tokens"
down_revision: str | None = "0009_ingest_topics_feeds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_tokens",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("renewed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_tokens")),
    )


def downgrade() -> None:
    op.drop_table("channel_tokens")
