"""The audit log: who did what, when, to which digest, post or subscriber, before and after.

Written by the web app (editors, marketing, API tokens) in the same transaction as the change it
records where the caller passes its connection, so a change is never without its entry. Actors
are written as "editor:NAME" or "token:NAME"; actions as "noun.verb" ("digest.approve").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from digest.store.schema import audit_log

MAX_FIELD = 200  # actor, action and subject are cut to fit their columns


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


def record(
    target: Engine | Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Write one entry: in `target`'s transaction when it is a connection, else in its own."""
    statement = insert(audit_log).values(
        at=at,
        actor=actor[:MAX_FIELD],
        action=action[:64],
        subject=subject[:300],
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )
    if isinstance(target, Connection):
        target.execute(statement)
        return
    with target.begin() as connection:
        connection.execute(statement)


def entries_for(engine: Engine, subject: str, *, limit: int = 200) -> list[AuditEntry]:
    """The entries about `subject`, newest first."""
    return _entries(engine, audit_log.c.subject == subject, limit)


def entries_by(engine: Engine, actor: str, *, limit: int = 200) -> list[AuditEntry]:
    """What `actor` did, newest first."""
    return _entries(engine, audit_log.c.actor == actor, limit)


def _entries(engine: Engine, condition: Any, limit: int) -> list[AuditEntry]:
    query = (
        select(audit_log)
        .where(condition)
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                before=row.before,
                after=row.after,
            )
            for row in connection.execute(query)
        ]
