"""Editors' change sets, one per digest key, and the edit that replaces a stored snapshot.

The change set is kept as the JSON its owner (compose/edits.py) writes; the store neither reads
nor checks its fields. Saving an edit is one transaction with its audit entry: the change set,
the stored snapshot replaced by the edited digest (if the digest is stored), and an approval
withdrawn, since it covered other content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, false, func, select, update

from digest.models import Digest
from digest.store import audit, codec
from digest.store.engine import dialect_insert, write_transaction
from digest.store.schema import deliveries, digest_edits, digests


class AlreadyPlanned(Exception):
    """The digest has rows for its recipients: what they get can no longer change."""


@dataclass(frozen=True, slots=True)
class EditSaved:
    stored: bool  # the stored snapshot was replaced by the edited digest
    unapproved: bool  # it had been approved: the edit returned it to draft


def load_changes(engine: Engine, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The change sets of those of `keys` that have one, by key (one query)."""
    if not keys:
        return {}
    query = select(digest_edits.c.key, digest_edits.c.changes).where(
        digest_edits.c.key.in_(sorted(set(keys)))
    )
    with engine.connect() as connection:
        return {key: changes for key, changes in connection.execute(query)}


def save_changes(
    engine: Engine,
    key: str,
    changes: Mapping[str, Any],
    edited: Digest,
    *,
    at: datetime,
    actor: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> EditSaved:
    """Record `changes` for `key`; if the digest is stored, its snapshot becomes `edited` and an
    approval is withdrawn (a hold stays). Raises AlreadyPlanned once it has real rows."""
    upsert = dialect_insert(engine, digest_edits).values(
        key=key, changes=dict(changes), updated_at=at, updated_by=actor
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[digest_edits.c.key],
        set_={"changes": upsert.excluded.changes, "updated_at": at, "updated_by": actor},
    )
    planned = (
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.digest_key == key, deliveries.c.is_test == false())
    )
    with write_transaction(engine) as connection:
        status = connection.execute(
            select(digests.c.status).where(digests.c.key == key).with_for_update()
        ).scalar_one_or_none()
        if connection.scalar(planned):
            raise AlreadyPlanned(key)
        connection.execute(upsert)
        unapproved = status == "approved"
        if status is not None:
            connection.execute(
                update(digests)
                .where(digests.c.key == key)
                .values(
                    content=codec.digest_to_dict(edited),
                    title=edited.title,
                    status="draft" if unapproved else status,
                    approved_by=None,
                    approved_at=None,
                    approved_hash=None,
                )
            )
        audit.record(
            connection,
            at=at,
            actor=actor,
            action=action,
            subject=key,
            before=before,
            after=(
                {**(after or {}), "approval": "withdrawn: back to draft"} if unapproved else after
            ),
        )
    return EditSaved(stored=status is not None, unapproved=unapproved)
