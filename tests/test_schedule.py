"""The scheduler: cron schedules from settings, persisted in the database, reconciled at start;
a missed run within the grace period runs once, a stale one is skipped, and nothing runs twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from sqlalchemy import select

from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.names import person_name
from digest.outbox import DeliveryReport
from digest.render.templates import template_environment
from digest.schedule import jobs, scheduler
from digest.schedule.deliverer import deliver_due
from digest.schedule.status import delivery_counts
from digest.settings import CronSchedule, parse_settings
from digest.store import Store, schema
from digest.store.engagement import Event, link_counts, write_events

REPO = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def context(store: Store, tmp_path: Path) -> Iterator[Context]:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    yield Context(settings=settings, store=store, env=template_environment())


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each job run, and still runs the real job."""
    calls: list[str] = []
    for name, job in list(scheduler.JOBS.items()):

        def recorded(ctx: Context, name: str = name, job=job) -> DeliveryReport:  # type: ignore[no-untyped-def]
            calls.append(name)
            return job(ctx)

        monkeypatch.setitem(scheduler.JOBS, name, recorded)
    return calls


def next_weekly_run(ctx: Context) -> datetime:
    """When the stored weekly job will next run (as reconciled from settings.yaml)."""
    sched = scheduler.build_scheduler(ctx)
    sched.start(paused=True)
    try:
        scheduler.reconcile(sched, ctx)
        job = sched.get_job("weekly")
        assert job is not None
        return job.next_run_time
    finally:
        sched.shutdown(wait=False)


def test_jobs_come_from_the_settings_cron_in_the_site_zone(context: Context) -> None:
    due = next_weekly_run(context)
    local = due.astimezone(PARIS)
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 0)  # "0 7 * * mon"


def test_a_due_job_runs_once_and_is_not_due_again(context: Context, ran: list[str]) -> None:
    due = next_weekly_run(context)
    runs = scheduler.run_due(context, due + timedelta(minutes=1))
    assert [(r.name, r.due_at, r.ran) for r in runs] == [("weekly", due, True)]
    assert ran == ["weekly"]
    assert scheduler.run_due(context, due + timedelta(minutes=2)) == []
    assert ran == ["weekly"]


def test_a_run_missed_during_downtime_runs_once_after_a_restart(
    context: Context, ran: list[str]
) -> None:
    due = next_weekly_run(context)
    # The process was down at `due`; it starts again 3 hours later (within 6 h of grace), with
    # the same settings: the stored next run time is kept, not recomputed from the new start.
    later = due + timedelta(hours=3)
    runs = scheduler.run_due(context, later)
    assert [(r.name, r.ran) for r in runs] == [("weekly", True), ("company", True)]
    assert sorted(ran) == ["company", "weekly"]
    assert scheduler.run_due(context, later + timedelta(minutes=1)) == []


def test_a_stale_run_is_skipped_and_the_next_one_scheduled(
    context: Context, ran: list[str]
) -> None:
    due = next_weekly_run(context)
    two_days_late = due + timedelta(days=2)
    runs = scheduler.run_due(context, two_days_late)
    assert {(r.name, r.ran) for r in runs} == {("weekly", False), ("company", False)}
    assert ran == []
    assert next_weekly_run(context) == due + timedelta(days=7)


def test_changed_and_disabled_schedules_are_reconciled(context: Context) -> None:
    next_weekly_run(context)
    schedules = replace(
        context.settings.schedules,
        weekly=CronSchedule("30 9 * * fri"),
        company=CronSchedule("0 8 * * mon", enabled=False),
    )
    changed = replace(context, settings=replace(context.settings, schedules=schedules))
    sched = scheduler.build_scheduler(changed)
    sched.start(paused=True)
    try:
        scheduler.reconcile(sched, changed)
        assert [job.id for job in sched.get_jobs()] == ["weekly"]
        local = sched.get_job("weekly").next_run_time.astimezone(PARIS)
        assert (local.weekday(), local.hour, local.minute) == (4, 9, 30)
    finally:
        sched.shutdown(wait=False)


def test_the_weekly_job_sends_last_week_and_a_rerun_sends_nothing(context: Context) -> None:
    sample = REPO / "digest" / "data"
    context.store.write_batch(read_sources([str(sample / "sample.yaml")]))
    context.store.save_subscribers(read_subscribers(sample / "sample-subscribers.csv"))
    monday = datetime(2026, 11, 30, 7, 0, tzinfo=PARIS)
    timed = replace(context, clock=lambda: monday)
    first = jobs.weekly_job(timed)
    weekly_readers = [
        s for s in context.store.subscribers() if s.status == "active" and s.preferences.weekly
    ]
    stored = context.store.load_digest("weekly:2026-W48")
    assert stored is not None
    posts = len(jobs.compose_posts(timed, stored))  # each channel's item posts and top stories
    assert posts > 50  # 10 item posts and at least one top-stories post on each of 5 channels
    assert jobs.weekly_job(timed).states == {}
    # The emails at their subscribers' hours within a day, the posts at their channels' slots.
    after_the_slots = replace(context, clock=lambda: monday + timedelta(days=14))
    rest = deliver_due(after_the_slots)
    done = Counter(first.states) + Counter(rest.states)
    assert done["sent"] + done.get("skipped", 0) == len(weekly_readers) + posts
    assert rest.states["sent"] > posts  # emails too waited for their hour


@pytest.mark.parametrize(
    ("now", "week"),
    [
        (datetime(2026, 11, 29, 18, 0, tzinfo=PARIS), "2026-W48"),  # Sunday: tomorrow sends W48
        (datetime(2026, 11, 30, 6, 59, tzinfo=PARIS), "2026-W48"),  # a minute before the run
        (datetime(2026, 11, 30, 8, 0, tzinfo=PARIS), "2026-W49"),  # after it: next Monday's
    ],
)
def test_the_next_run_sends_the_week_before_the_one_it_fires_in(
    context: Context, now: datetime, week: str
) -> None:
    assert str(jobs.next_run_week(replace(context, clock=lambda: now))) == week


# Late and missed runs: never silent ---------------------------------------------------------

MONDAY_RUN = datetime(2026, 11, 30, 7, 0, tzinfo=PARIS)  # the W48 weekly run


@pytest.fixture
def sample_context(context: Context) -> Context:
    context.store.write_batch(read_sources([str(REPO / "digest" / "data" / "sample.yaml")]))
    context.store.save_subscribers(read_subscribers(REPO / "subscribers" / "sample.csv"))
    return context


def test_a_first_start_within_the_grace_makes_the_run_it_would_have_missed(
    sample_context: Context, ran: list[str]
) -> None:
    # No job stored yet: on its own, APScheduler would wait for next Monday.
    runs = scheduler.run_due(sample_context, MONDAY_RUN + timedelta(hours=2))
    assert {(r.name, r.due_at, r.ran) for r in runs} == {
        ("weekly", MONDAY_RUN, True),
        ("company", MONDAY_RUN + timedelta(hours=1), True),
    }
    assert sorted(ran) == ["company", "weekly"]
    assert delivery_counts(sample_context, ["weekly:2026-W48"])["weekly:2026-W48"].total > 0


def test_a_run_missed_past_its_grace_is_reported_and_not_made(
    sample_context: Context, ran: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    tuesday = MONDAY_RUN + timedelta(days=1)
    assert scheduler.run_due(sample_context, tuesday) == []
    assert ran == []
    missed = scheduler.missed_runs(replace(sample_context, clock=lambda: tuesday))
    assert [(run.name, run.due_at, str(run.week)) for run in missed] == [
        ("weekly", MONDAY_RUN, "2026-W48"),
        ("company", MONDAY_RUN + timedelta(hours=1), "2026-W48"),
    ]
    assert missed[0].words() == (
        "weekly: missed the run of Mon 2026-11-30 07:00 CET for 2026-W48 (1 digest never "
        "planned: the scheduler was not running then); send it with "
        "`digest send weekly --week 2026-W48` or from the editor's page of each digest"
    )
    # The daemon says so when it starts.
    stop = threading.Event()
    stop.set()
    scheduler.run_forever(replace(sample_context, clock=lambda: tuesday), stop)
    assert "weekly: missed the run of Mon 2026-11-30 07:00 CET" in caplog.text


def test_schedule_once_prints_a_missed_run_instead_of_nothing_was_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from digest.cli import main

    args = ["--settings", str(REPO / "settings.yaml"), "--database", f"sqlite:///{tmp_path}/d.db"]
    assert main([*args, "ingest", str(REPO / "digest" / "data" / "sample.yaml")]) == 0
    capsys.readouterr()
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, tzinfo=PARIS), tick=False):
        assert main([*args, "schedule", "--once"]) == 0
    out = capsys.readouterr().out
    assert "weekly: missed the run of Mon 2026-11-30 07:00 CET for 2026-W48" in out
    assert "company: missed the run of Mon 2026-11-30 08:00 CET" in out
    assert "nothing was due" not in out


def test_the_scheduler_purges_raw_engagement_events_past_their_retention(
    context: Context,
) -> None:
    """`tracking.raw_days` (30): older raw events go at each run, the counts stay."""
    now = datetime(2026, 12, 30, 12, 0, tzinfo=PARIS)
    events = [
        Event(now - timedelta(days=days), "weekly:2026-W48", "email", "item:a", "click",
              "reader", "", f"reader-{days}")
        for days in (31, 29)
    ]  # fmt: skip
    write_events(context.store.engine, events)
    scheduler.run_due(context, now)
    with context.store.engine.connect() as connection:
        left = connection.scalars(select(schema.engagement_events.c.reader_key)).all()
    assert left == ["reader-29"]
    assert [c.count for c in link_counts(context.store.engine, "weekly:2026-W48")] == [2]


def test_the_scheduler_purges_sign_ups_pending_for_30_days_and_logs_how_many(
    context: Context, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime(2026, 12, 30, 12, 0, tzinfo=PARIS)
    for subscriber_id, days in (("web-old", 31), ("web-young", 29)):
        context.store.request_subscription(
            email=f"{subscriber_id}@example.com", name=person_name(""), new_id=subscriber_id,
            timezone="UTC", now=now - timedelta(days=days),
        )  # fmt: skip
    with caplog.at_level("INFO", logger="digest"):
        scheduler.run_due(context, now)
    assert [s.id for s in context.store.subscribers()] == ["web-young"]
    assert "upkeep: 1 sign-up never confirmed purged" in caplog.messages
