"""Approval gates the scheduled sends: a kind with `require_approval` waits for an editor, a hold
stops any digest, and the scheduler sends an approved digest (the snapshot the editor saw) at its
time. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from digest import outbox
from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.models import DeliveryChannel, DigestKind
from digest.render.templates import template_environment
from digest.schedule import jobs, scheduler
from digest.schedule.status import delivery_counts
from digest.settings import parse_settings
from digest.store import Store
from digest.store.store import ApprovalStatus

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"
PARIS = ZoneInfo("Europe/Paris")
WEEKLY = "weekly:2026-W48"
SUNDAY = datetime(2026, 11, 29, 18, 0, tzinfo=PARIS)
MONDAY_RUN = datetime(2026, 11, 30, 7, 0, tzinfo=PARIS)  # "0 7 * * mon", after W48


def context_for(store: Store, tmp_path: Path, *, weekly: bool, company: bool) -> Context:
    raw: dict[str, Any] = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["digests"]["weekly"]["require_approval"] = weekly
    raw["digests"]["company"]["require_approval"] = company
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    return Context(settings=settings, store=store, env=template_environment())


@pytest.fixture
def sample(store: Store) -> Iterator[Store]:
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
    yield store


def at(ctx: Context, moment: datetime) -> Context:
    return replace(ctx, clock=lambda: moment)


def real_rows(ctx: Context, key: str) -> int:
    return delivery_counts(ctx, [key])[key].total


def test_a_kind_that_requires_approval_waits_and_an_approved_one_goes_at_its_time(
    sample: Store, tmp_path: Path
) -> None:
    ctx = context_for(sample, tmp_path, weekly=True, company=False)
    # Monday's run without an approval: stored for the editors, nothing planned or sent.
    report = jobs.weekly_job(at(ctx, MONDAY_RUN))
    assert report.states == {}
    approval = sample.digest_approval(WEEKLY)
    assert approval is not None and approval.status is ApprovalStatus.DRAFT
    assert real_rows(ctx, WEEKLY) == 0
    assert not (tmp_path / "outbox" / "email").exists()
    # The editor approves it (here with Sunday's clock, before its run: nothing planned yet).
    digest = jobs.compose_weekly(ctx, jobs.last_complete_week(at(ctx, MONDAY_RUN)))
    decision = jobs.decide(at(ctx, SUNDAY), digest, ApprovalStatus.APPROVED, "Ada Editor")
    assert decision.planned_now == 0
    assert real_rows(ctx, WEEKLY) == 0
    approval = sample.digest_approval(WEEKLY)
    assert approval is not None and approval.status is ApprovalStatus.APPROVED
    assert approval.approved_by == "Ada Editor" and approval.approved_at == SUNDAY
    # The job, at its time, sends it.
    report = jobs.weekly_job(at(ctx, MONDAY_RUN))
    assert report.states.get("sent", 0) > 0
    assert real_rows(ctx, WEEKLY) > 0
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) > 0


def test_the_scheduler_daemon_sends_an_approved_digest_when_its_job_is_due(
    sample: Store, tmp_path: Path
) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=True, company=True), SUNDAY)
    digest = jobs.compose_weekly(ctx, jobs.last_complete_week(at(ctx, MONDAY_RUN)))
    jobs.decide(ctx, digest, ApprovalStatus.APPROVED, "Ada Editor")
    sched = scheduler.build_scheduler(ctx)
    sched.start(paused=True)
    try:
        scheduler.reconcile(sched, ctx)  # on Sunday: the next run is Monday's
        due = sched.get_job("weekly").next_run_time
    finally:
        sched.shutdown(wait=False)
    assert due == MONDAY_RUN
    runs = scheduler.run_due(ctx, due + timedelta(hours=1, minutes=1))  # weekly and company due
    assert {run.name for run in runs if run.ran} == {"weekly", "company"}
    assert real_rows(ctx, WEEKLY) > 0
    # The company digests need approval too, and nobody gave it.
    company_keys = [key for key in sample.digest_keys() if key.startswith("company:")]
    assert company_keys
    assert all(real_rows(ctx, key) == 0 for key in company_keys)


def test_a_hold_stops_the_scheduled_send_of_a_kind_that_needs_no_approval(
    sample: Store, tmp_path: Path
) -> None:
    ctx = context_for(sample, tmp_path, weekly=False, company=False)
    digest = jobs.compose_weekly(ctx, jobs.last_complete_week(at(ctx, MONDAY_RUN)))
    jobs.decide(at(ctx, SUNDAY), digest, ApprovalStatus.HELD, "Ada Editor")
    held = sample.digest_approval(WEEKLY)
    assert held is not None and held.status is ApprovalStatus.HELD
    assert jobs.weekly_job(at(ctx, MONDAY_RUN)).states == {}
    assert real_rows(ctx, WEEKLY) == 0
    assert jobs.plan_email(at(ctx, MONDAY_RUN), digest).waiting == "held by an editor"
    # The company digests were not held: they go.
    jobs.company_job(at(ctx, MONDAY_RUN))
    assert real_rows(ctx, "company:mistral-ai:2026-W48") > 0
    # Approving it lets it go; the run was missed, so approving plans it at once.
    later = at(ctx, MONDAY_RUN + timedelta(hours=2))
    decision = jobs.decide(later, digest, ApprovalStatus.APPROVED, "Grace Editor")
    assert decision.planned_now > 0
    assert real_rows(ctx, WEEKLY) == decision.planned_now


def test_what_is_sent_is_the_snapshot_the_editor_approved(sample: Store, tmp_path: Path) -> None:
    ctx = context_for(sample, tmp_path, weekly=True, company=False)
    week = jobs.last_complete_week(at(ctx, MONDAY_RUN))
    approved = jobs.compose_weekly(ctx, week)
    jobs.decide(at(ctx, SUNDAY), approved, ApprovalStatus.APPROVED, "Ada Editor")
    # News arrives after the approval, inside the same week, and ranks at the top.
    late = {
        "items": [
            {
                "id": "late-breaking",
                "title": "LATE-BREAKING item nobody approved",
                "summary": "It arrived after the editor's approval.",
                "url": "https://example.com/late",
                "published_at": "2026-11-29T20:00:00+01:00",
                "companies": ["mistral-ai"],
                "category": "Product",
            }
        ],
        "reads": [{"item": "late-breaking", "text": "Big.", "novelty": 5, "significance": 5}],
    }
    source = tmp_path / "late.yaml"
    source.write_text(yaml.safe_dump(late))
    sample.write_batch(read_sources([str(source)], known_companies=sample.company_slugs()))
    assert any(e.item.id == "late-breaking" for e in jobs.compose_weekly(ctx, week).entries)
    jobs.weekly_job(at(ctx, MONDAY_RUN))
    sent = list((tmp_path / "outbox" / "email").glob("*.eml"))
    assert sent
    assert all(b"LATE-BREAKING" not in path.read_bytes() for path in sent)


def test_a_digest_with_planned_rows_reports_them_and_test_rows_do_not_count(
    sample: Store, tmp_path: Path
) -> None:
    ctx = context_for(sample, tmp_path, weekly=False, company=False)
    digest = jobs.compose_weekly(ctx, jobs.last_complete_week(at(ctx, MONDAY_RUN)))
    sample.save_digest(digest)
    outbox.plan(
        sample.engine,
        [
            outbox.PlannedDelivery(
                idempotency_key=f"{WEEKLY}/test/1",
                digest_key=WEEKLY,
                channel=DeliveryChannel.EMAIL,
                target="proof@example.org",
                payload={"kind": "test", "address": "proof@example.org"},
                is_test=True,
            )
        ],
        now=SUNDAY,
    )
    assert real_rows(ctx, WEEKLY) == 0
    report = jobs.plan_email(at(ctx, MONDAY_RUN), digest)
    assert report.new > 0 and real_rows(ctx, WEEKLY) == report.new
    assert digest.kind is DigestKind.WEEKLY


def test_a_digest_is_released_when_its_rows_are_planned_not_when_it_is_stored(
    sample: Store, tmp_path: Path
) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=True, company=False), MONDAY_RUN)
    digest = jobs.compose_weekly(ctx, jobs.last_complete_week(ctx))
    jobs.plan_email(ctx, digest)  # stored, waiting for approval: not released
    assert [s.planned_at for s in sample.digest_summaries()] == [None]
    jobs.decide(ctx, digest, ApprovalStatus.APPROVED, "Ada Editor")  # late: planned at once
    approval = sample.digest_approval(WEEKLY)
    assert approval is not None and approval.planned_at == MONDAY_RUN


def test_a_company_digest_approved_late_gets_its_posts_as_the_scheduler_would_plan_them(
    sample: Store, tmp_path: Path
) -> None:
    ctx = context_for(sample, tmp_path, weekly=False, company=True)
    week = jobs.last_complete_week(at(ctx, MONDAY_RUN))
    (digest,) = jobs.compose_companies(ctx, week, "mistral-ai")
    later = at(ctx, MONDAY_RUN + timedelta(hours=3))
    jobs.decide(later, digest, ApprovalStatus.APPROVED, "Ada Editor")
    counts = outbox.state_counts(sample.engine, [digest.key])
    posts = [channel.name for channel in ctx.settings.social]
    assert counts == {"planned": real_rows(ctx, digest.key)}
    assert real_rows(ctx, digest.key) == 4 + len(posts)  # its four followers, one post a channel
