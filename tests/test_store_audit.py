"""The audit log on both backends: entries kept with their actor, subject and before/after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.store import Store
from digest.store.audit import entries_by, entries_for, record

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def test_entries_are_listed_newest_first_per_subject_and_per_actor(store: Store) -> None:
    record(
        store.engine,
        at=NOW,
        actor="editor:Quinn",
        action="digest.edit",
        subject="weekly:2026-W48",
        before={"subject": "Old"},
        after={"subject": "New"},
    )
    with store.engine.begin() as connection:
        record(
            connection,
            at=NOW + timedelta(minutes=1),
            actor="editor:Quinn",
            action="digest.approve",
            subject="weekly:2026-W48",
        )
    record(store.engine, at=NOW, actor="token:cms", action="items.write", subject="items:batch")
    about = entries_for(store.engine, "weekly:2026-W48")
    assert [entry.action for entry in about] == ["digest.approve", "digest.edit"]
    assert about[1].before == {"subject": "Old"} and about[1].after == {"subject": "New"}
    assert about[0].at == NOW + timedelta(minutes=1)
    assert [entry.subject for entry in entries_by(store.engine, "token:cms")] == ["items:batch"]


def test_an_entry_written_in_a_rolled_back_transaction_is_gone(store: Store) -> None:
    try:
        with store.engine.begin() as connection:
            record(connection, at=NOW, actor="editor:Q", action="digest.hold", subject="k")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert entries_for(store.engine, "k") == []
