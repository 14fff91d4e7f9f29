"""When a digest was released to its recipients, so that its status never has to be guessed.

Revision ID: 0006_digest_planned_at
Revises: 0005_engagement
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0006_digest_planned_at"
down_revision: str | None = "0005_engagement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("digests", sa.Column("planned_at", UTCDateTime(), nullable=True))
    # Digests stored before this column existed and planned for anyone were released then.
    op.execute(
        "UPDATE digests SET planned_at = created_at WHERE key IN "
        "(SELECT DISTINCT digest_key FROM deliveries WHERE NOT is_test)"
    )


def downgrade() -> None:
    op.drop_column("digests", "planned_at")
