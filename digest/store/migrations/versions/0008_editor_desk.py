"""The editorial desk: editors' change sets, the content hash an approval covers, editor
accounts and their server-side sessions, an index for searching subscribers by address, and
one of the posts by their slot (the calendar).

Revision ID: 0008_editor_desk
Revises: 0007_api_webhooks
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import JSONDocument, UTCDateTime

revision: str = "0008_editor_desk"
down_revision: str | None = "0007_api_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The editor's subscriber picker searches by the start of an address: a range over email_key in
# PostgreSQL's pattern operators (character by character, whatever the database's collation);
# SQLite compares bytes, so its unique index serves.
PREFIX_INDEX = (
    "CREATE INDEX ix_subscribers_email_key_pattern ON subscribers (email_key varchar_pattern_ops)"
)


def upgrade() -> None:
    op.add_column("digests", sa.Column("approved_hash", sa.String(64), nullable=True))
    op.create_table(
        "digest_edits",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("changes", JSONDocument, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_digest_edits")),
    )
    op.create_table(
        "editor_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("password_changed_at", UTCDateTime(), nullable=False),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_editor_accounts_name")),
    )
    op.create_table(
        "editor_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("flash", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["editor_accounts.id"],
            name=op.f("fk_editor_sessions_account_id_editor_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_editor_sessions")),
    )
    op.create_index(op.f("ix_editor_sessions_account_id"), "editor_sessions", ["account_id"])
    op.create_index(op.f("ix_editor_sessions_expires_at"), "editor_sessions", ["expires_at"])
    # The calendar's posts by slot: a partial index of the social rows, never the email millions.
    op.create_index(
        "ix_deliveries_posts",
        "deliveries",
        ["available_at"],
        sqlite_where=sa.text("channel = 'social'"),
        postgresql_where=sa.text("channel = 'social'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PREFIX_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_subscribers_email_key_pattern")
    op.drop_index("ix_deliveries_posts", table_name="deliveries")
    op.drop_index(op.f("ix_editor_sessions_expires_at"), table_name="editor_sessions")
    op.drop_index(op.f("ix_editor_sessions_account_id"), table_name="editor_sessions")
    op.drop_table("editor_sessions")
    op.drop_table("editor_accounts")
    op.drop_table("digest_edits")
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("approved_hash")
