"""Status words derived from the stored rows: every transition from draft to sent, on SQLite and
PostgreSQL, each seen by a clock the test sets (never today's)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from test_approval import DATA, MONDAY_RUN, SUNDAY, at, context_for, sample  # noqa: F401

from digest import outbox
from digest.context import Context
from digest.ingest import read_sources
from digest.models import DeliveryChannel, DeliveryResult, DeliveryStatus, Digest
from digest.schedule import jobs
from digest.schedule.deliverer import Deliverer
from digest.schedule.status import Stage, delivery_counts, digest_status
from digest.store import Store
from digest.store.store import ApprovalStatus


def weekly(ctx: Context) -> Digest:
    return jobs.compose_weekly(ctx, jobs.last_complete_week(at(ctx, MONDAY_RUN)))


def plan_as_the_scheduler_does(ctx: Context, digest: Digest) -> None:
    jobs.plan_email(ctx, digest)
    jobs.plan_social(ctx, digest)


def test_a_digest_goes_from_draft_to_sent_with_failures_each_stage_in_words(
    sample: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=True, company=False), SUNDAY)
    digest = weekly(ctx)
    status = digest_status(ctx, digest)
    assert status.stage is Stage.DRAFT
    assert status.words == "draft: waiting for an editor's approval"
    jobs.decide(ctx, digest, ApprovalStatus.HELD, "Ada Editor")
    assert digest_status(ctx, digest).stage is Stage.HELD
    jobs.decide(ctx, digest, ApprovalStatus.APPROVED, "Ada Editor")
    approved = digest_status(ctx, digest)
    assert approved.stage is Stage.APPROVED and approved.approved_by == "Ada Editor"
    assert approved.send_at == MONDAY_RUN

    monday = at(ctx, MONDAY_RUN)
    plan_as_the_scheduler_does(monday, digest)
    planned = digest_status(monday, digest)
    emails = planned.counts.count(channel=DeliveryChannel.EMAIL)
    posts = planned.counts.count(channel=DeliveryChannel.SOCIAL)
    assert planned.stage is Stage.PLANNED and emails > 1 and posts > 1
    # Released at 07:00 Paris: the emails of those whose hour is 7 in Paris' zone (or under way
    # elsewhere) are due; the rest wait for their subscriber's hour.
    later = planned.counts.later
    assert 0 < later < emails + posts
    assert planned.words == (
        f"planned for {emails + posts} deliveries: {emails} emails and {posts} posts; "
        f"no worker has sent any yet; {later} due later, the next at Mon 2026-11-30 08:00 CET"
    )

    # A worker takes the two rows due (the emails whose hour is 7 in Madrid and Stockholm): one
    # goes, one is refused for good.
    rows = outbox.claim(
        sample.engine, owner="w", limit=3, lease=timedelta(minutes=5), now=MONDAY_RUN
    )
    sent = DeliveryResult(DeliveryStatus.SENT, provider_id="p")
    refused = DeliveryResult(DeliveryStatus.REJECTED, response="550 no such user")
    assert len(rows) == 2
    outcomes = [(rows[0], sent), (rows[1], refused)]
    outbox.finish_many(sample.engine, outcomes, owner="w", now=MONDAY_RUN)
    sending = digest_status(monday, digest)
    total = emails + posts
    assert sending.stage is Stage.SENDING
    assert sending.words == (
        f"sending: 1 of {total} delivered, 1 failed, "
        f"{later} due later, the next at Mon 2026-11-30 08:00 CET"
    )

    Deliverer(monday).run()  # what is due; the rest waits for its hour or its slot
    waiting = digest_status(monday, digest)
    assert waiting.stage is Stage.SENDING and 0 < waiting.counts.later <= later
    fortnight = at(ctx, MONDAY_RUN + timedelta(days=14))  # past every hour and every slot
    Deliverer(fortnight).run()
    done = digest_status(fortnight, digest)
    assert done.stage is Stage.SENT_WITH_FAILURES
    assert done.words == f"sent with failures: {total - 1} of {total} delivered, 1 failed"


def test_an_approval_after_the_send_time_says_planned_until_a_worker_runs(
    sample: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctx = context_for(sample, tmp_path, weekly=True, company=False)
    late = at(ctx, MONDAY_RUN + timedelta(hours=2))
    digest = weekly(late)
    jobs.decide(late, digest, ApprovalStatus.APPROVED, "Quinn Editor")
    status = digest_status(late, digest)
    assert status.stage is Stage.PLANNED  # not "sent": nothing has been delivered
    assert status.approved_by == "Quinn Editor"
    after_the_slots = at(ctx, MONDAY_RUN + timedelta(days=14))  # posts go at their slots
    Deliverer(after_the_slots).run()
    delivered = digest_status(after_the_slots, digest)
    assert delivered.stage is Stage.SENT
    assert (
        delivered.words == f"sent: {delivered.counts.total} of {delivered.counts.total} delivered"
    )


def test_a_run_missed_past_its_grace_says_so_and_within_it_does_not(
    sample: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctx = context_for(sample, tmp_path, weekly=False, company=False)
    grace = timedelta(seconds=ctx.settings.schedules.misfire_grace_seconds)
    digest = weekly(ctx)
    within = digest_status(at(ctx, MONDAY_RUN + grace), digest)
    assert within.stage is Stage.DRAFT
    missed = digest_status(at(ctx, MONDAY_RUN + grace + timedelta(minutes=1)), digest)
    assert missed.stage is Stage.MISSED
    assert missed.words == (
        "missed: nothing was planned at Mon 2026-11-30 07:00 CET (the scheduler was not running)"
    )
    held = at(ctx, MONDAY_RUN + grace + timedelta(minutes=1))
    jobs.decide(held, digest, ApprovalStatus.HELD, "Ada Editor")
    assert digest_status(held, digest).stage is Stage.HELD  # a hold is not a miss


def test_a_digest_released_to_nobody_is_sent_to_nobody(store: Store, tmp_path: Path) -> None:
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))  # items, and no subscribers
    ctx = at(context_for(store, tmp_path, weekly=False, company=False), MONDAY_RUN)
    ctx = replace(ctx, settings=replace(ctx.settings, social=()))
    digest = weekly(ctx)
    plan_as_the_scheduler_does(ctx, digest)
    status = digest_status(ctx, digest)
    assert status.stage is Stage.SENT and status.counts.total == 0
    assert status.words == "sent to nobody: no subscriber follows it and no channel posts it"
    assert status.is_out


def test_counts_for_many_digests_come_in_one_query(
    sample: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctx = at(context_for(sample, tmp_path, weekly=False, company=False), MONDAY_RUN)
    digest = weekly(ctx)
    plan_as_the_scheduler_does(ctx, digest)
    counts = delivery_counts(ctx, [digest.key, "company:nobody:2026-W48"])
    assert counts[digest.key].total > 0
    assert counts["company:nobody:2026-W48"].total == 0
