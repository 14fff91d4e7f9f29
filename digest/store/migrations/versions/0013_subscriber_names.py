"""Subscribers' given and family names, split from the stored name where that is unambiguous.

Revision ID: 0013_subscriber_names
Revises: 0012_delivery_counts_index
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.names import split_name

revision: str = "0013_subscriber_names"
down_revision: str | None = "0012_delivery_counts_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("given_name", "family_name"):
        op.add_column(
            "subscribers", sa.Column(column, sa.String(), nullable=False, server_default="")
        )
    subscribers = sa.table(
        "subscribers",
        sa.column("id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("given_name", sa.String()),
        sa.column("family_name", sa.String()),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(subscribers.c.id, subscribers.c.name)):
        name = split_name(row.name)
        if name.given or name.family:
            connection.execute(
                subscribers.update()
                .where(subscribers.c.id == row.id)
                .values(name=name.name, given_name=name.given, family_name=name.family)
            )


def downgrade() -> None:
    op.drop_column("subscribers", "family_name")
    op.drop_column("subscribers", "given_name")
