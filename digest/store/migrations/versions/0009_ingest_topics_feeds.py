"""Items name the site's own page, reads carry a social line; the topics of items with their
declared hashtags (filled from the items already stored); the validators of pulled feeds.

Revision ID: 0009_ingest_topics_feeds
Revises: 0008_editor_desk
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import JSONDocument, UTCDateTime

revision: str = "0009_ingest_topics_feeds"
down_revision: str | None = "0008_editor_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("page_url", sa.String(), nullable=True))
    op.add_column("reads", sa.Column("social", sa.Text(), nullable=True))
    topics = op.create_table(
        "topics",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("hashtag", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_topics")),
    )
    op.create_table(
        "feed_sources",
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_feed_sources")),
    )
    items = sa.table("items", sa.column("topics", JSONDocument))
    connection = op.get_bind()
    names = {name for row in connection.execute(sa.select(items.c.topics)) for name in row[0]}
    if names:
        op.bulk_insert(topics, [{"name": name, "hashtag": None} for name in sorted(names)])


def downgrade() -> None:
    op.drop_table("feed_sources")
    op.drop_table("topics")
    op.drop_column("reads", "social")
    op.drop_column("items", "page_url")
