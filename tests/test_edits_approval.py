"""Edits drive what is sent, and an approval covers only the content approved: an edit after
approval returns the digest to draft, a send never goes with content other than the approved
one, and every change is in the audit log. On SQLite and on PostgreSQL."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from test_approval import MONDAY_RUN, SUNDAY, WEEKLY, at, context_for, real_rows

from digest.compose import ChangeSet
from digest.ingest import read_sources, read_subscribers
from digest.schedule import jobs
from digest.store import Store, schema
from digest.store.audit import entries_for
from digest.store.codec import content_hash, digest_to_dict
from digest.store.edits import AlreadyPlanned
from digest.store.store import ApprovalStatus

DATA = Path(__file__).resolve().parent.parent / "digest" / "data"


@pytest.fixture
def sample(store: Store) -> Iterator[Store]:
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
    yield store


def delivered(tmp_path: Path) -> list[tuple[str, str]]:
    """(subject, first headline of the text part) of every delivered email."""
    found = []
    for path in (tmp_path / "outbox" / "email").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",))
        assert text is not None
        numbered = [line for line in text.get_content().splitlines() if line.startswith("1. ")]
        found.append((str(message["Subject"]), numbered[0][3:]))
    return found


def test_an_edit_after_approval_returns_it_to_draft_and_only_the_approved_content_goes(
    sample: Store, tmp_path: Path
) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=True, company=False), SUNDAY)
    week = jobs.last_complete_week(at(ctx, MONDAY_RUN))
    digest = jobs.compose_weekly(ctx, week)
    last = digest.entries[-1].item
    jobs.decide(ctx, digest, ApprovalStatus.APPROVED, "Ada Editor")
    approval = sample.digest_approval(WEEKLY)
    assert approval is not None and approval.approved_hash == content_hash(digest)

    # The editor pins the last item after approving: back to draft, the snapshot edited.
    saved = jobs.save_edit(
        ctx,
        WEEKLY,
        ChangeSet().pin(last.id).with_text(subject="Our pick of the week"),
        actor="editor:Ada Editor",
        action="digest.pin",
        after={"item": last.id},
    )
    assert saved is not None and saved.stored and saved.unapproved
    approval = sample.digest_approval(WEEKLY)
    assert approval is not None and approval.status is ApprovalStatus.DRAFT
    assert approval.approved_by is None and approval.approved_hash is None
    stored = sample.load_digest(WEEKLY)
    assert stored is not None and stored.entries[0].item.id == last.id
    assert stored.subject == "Our pick of the week"

    # Monday's run: not approved any more, nothing planned.
    assert jobs.weekly_job(at(ctx, MONDAY_RUN)).states == {}
    assert real_rows(ctx, WEEKLY) == 0

    # Approved again: the run sends exactly the edited snapshot.
    jobs.decide(ctx, stored, ApprovalStatus.APPROVED, "Ada Editor")
    jobs.weekly_job(at(ctx, MONDAY_RUN))
    assert real_rows(ctx, WEEKLY) > 0
    sent = delivered(tmp_path)
    assert {subject for subject, _ in sent} == {"Our pick of the week"}
    # Readers of every topic get the pinned item first (others get only their topics).
    assert any(last.title.startswith(first) for _, first in sent)

    # Once planned, no more edits.
    with pytest.raises(AlreadyPlanned):
        jobs.save_edit(ctx, WEEKLY, ChangeSet(), actor="editor:Ada Editor", action="digest.note")

    actions = [entry.action for entry in entries_for(sample.engine, WEEKLY)]
    assert actions == ["digest.approve", "digest.pin", "digest.approve"]
    (pin,) = [e for e in entries_for(sample.engine, WEEKLY) if e.action == "digest.pin"]
    assert pin.actor == "editor:Ada Editor" and pin.after is not None
    assert pin.after["approval"] == "withdrawn: back to draft"


def test_content_changed_behind_an_approval_is_never_sent(sample: Store, tmp_path: Path) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=True, company=False), SUNDAY)
    digest = jobs.compose_weekly(ctx, jobs.last_complete_week(at(ctx, MONDAY_RUN)))
    jobs.decide(ctx, digest, ApprovalStatus.APPROVED, "Ada Editor")
    tampered = digest_to_dict(digest) | {"subject": "Not what was approved"}
    with sample.write() as connection:
        connection.execute(
            update(schema.digests).where(schema.digests.c.key == WEEKLY).values(content=tampered)
        )
    report = jobs.plan_email(at(ctx, MONDAY_RUN), digest)
    assert report.new == 0
    assert report.waiting == "its content is not what was approved: an editor must approve it again"


def test_a_held_digest_stays_held_when_edited(sample: Store, tmp_path: Path) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=False, company=False), SUNDAY)
    digest = jobs.compose_weekly(ctx, jobs.last_complete_week(at(ctx, MONDAY_RUN)))
    jobs.decide(ctx, digest, ApprovalStatus.HELD, "Ada Editor")
    saved = jobs.save_edit(
        ctx, WEEKLY, ChangeSet().with_text(note="Hi"), actor="editor:Ada", action="digest.note"
    )
    assert saved is not None and not saved.unapproved
    approval = sample.digest_approval(WEEKLY)
    assert approval is not None and approval.status is ApprovalStatus.HELD


def test_an_unstored_digest_keeps_its_edits_until_it_is_stored_by_the_run(
    sample: Store, tmp_path: Path
) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=False, company=False), SUNDAY)
    week = jobs.last_complete_week(at(ctx, MONDAY_RUN))
    digest = jobs.compose_weekly(ctx, week)
    dropped = digest.entries[0].item.id
    saved = jobs.save_edit(
        ctx, WEEKLY, ChangeSet().drop(dropped), actor="editor:Ada", action="digest.drop"
    )
    assert saved is not None and not saved.stored
    assert sample.load_digest(WEEKLY) is None  # editing does not freeze it
    jobs.weekly_job(at(ctx, MONDAY_RUN))
    stored = sample.load_digest(WEEKLY)
    assert stored is not None and dropped not in {e.item.id for e in stored.entries}
