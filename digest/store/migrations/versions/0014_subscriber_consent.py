"""Whose preferences a subscriber's are, and when they opted in.

preferences_changed_at: when the subscriber last changed their own preferences (the web form);
preferences_imported_at: when an import last wrote them. A re-import keeps the subscriber's own
choice when it is the newer of the two. opted_in_at: when they opted in, as the list they came
from says (an import from another service).

Revision ID: 0014_subscriber_consent
Revises: 0013_subscriber_names
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.store.types import UTCDateTime

revision: str = "0014_subscriber_consent"
down_revision: str | None = "0013_subscriber_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("opted_in_at", "preferences_changed_at", "preferences_imported_at")


def upgrade() -> None:
    # Stored subscribers have no change of their own on record: the next import may set theirs.
    for column in _COLUMNS:
        op.add_column("subscribers", sa.Column(column, UTCDateTime(), nullable=True))


def downgrade() -> None:
    for column in reversed(_COLUMNS):
        op.drop_column("subscribers", column)
