"""The share cards of stored digests: one PNG per entry and size, with its alt text.

Revision ID: 0011_share_cards
Revises: 0010_channel_tokens
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0011_share_cards"
down_revision: str | None = "0010_channel_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_cards",
        sa.Column("digest_key", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("size", sa.String(16), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("alt", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["digest_key"],
            ["digests.key"],
            name=op.f("fk_share_cards_digest_key_digests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest_key", "position", "size", name=op.f("pk_share_cards")),
    )


def downgrade() -> None:
    op.drop_table("share_cards")
