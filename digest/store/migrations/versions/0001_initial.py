"""The initial schema: companies, items, reads, subscribers, digests and the deliveries outbox.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import JSONDocument, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("sector", sa.String(), nullable=False),
        sa.Column("country", sa.String(8), nullable=False),
        sa.Column("hashtag", sa.String(), nullable=False),
        sa.Column("profile_url", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("slug", name="pk_companies"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("topics", JSONDocument, nullable=False),
        sa.Column("countries", JSONDocument, nullable=False),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column("hashtags", JSONDocument, nullable=False),
        sa.Column("image_url", sa.String(), nullable=True),
        sa.Column("read_minutes", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
    )
    op.create_index("ix_items_published_at", "items", ["published_at"])
    op.create_table(
        "item_companies",
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("company_slug", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_item_companies_item_id_items", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["company_slug"], ["companies.slug"], name="fk_item_companies_company_slug_companies"
        ),
        sa.PrimaryKeyConstraint("item_id", "company_slug", name="pk_item_companies"),
    )
    op.create_index("ix_item_companies_company_slug", "item_companies", ["company_slug"])
    op.create_table(
        "reads",
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("novelty", sa.Integer(), nullable=False),
        sa.Column("significance", sa.Integer(), nullable=False),
        sa.Column("refs", JSONDocument, nullable=False),
        sa.CheckConstraint("novelty BETWEEN 1 AND 5", name=op.f("ck_reads_novelty")),
        sa.CheckConstraint("significance BETWEEN 1 AND 5", name=op.f("ck_reads_significance")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_reads_item_id_items", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", name="pk_reads"),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("email_key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("preferences", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email_key", name="uq_subscribers_email_key"),
    )
    op.create_table(
        "digests",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("generated_at", UTCDateTime(), nullable=False),
        sa.Column("content", JSONDocument, nullable=False),
        sa.Column("status", sa.String(16), server_default="draft", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_digests"),
    )
    op.create_table(
        "deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("digest_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), server_default="planned", nullable=False),
        sa.Column("payload", JSONDocument, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.String(300), nullable=True),
        sa.Column("is_test", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("idempotency_key", name="uq_deliveries_idempotency_key"),
    )
    op.create_index("ix_deliveries_digest_key", "deliveries", ["digest_key"])
    op.create_index("ix_deliveries_state_available_at", "deliveries", ["state", "available_at"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("digests")
    op.drop_table("subscribers")
    op.drop_table("reads")
    op.drop_table("item_companies")
    op.drop_table("items")
    op.drop_table("companies")
