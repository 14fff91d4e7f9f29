"""APScheduler 3 around the jobs: cron schedules from settings.yaml, kept in the same database.

Jobs are reconciled from the settings at every start: a schedule whose cron did not change keeps
its stored next run time, so a run missed during downtime still happens once (coalesced) if it is
within the misfire grace period, and is skipped as stale if not; a changed cron replaces the job;
a disabled or removed one is deleted. Job rows hold only the job's name: the process that runs
them supplies the context (settings, store), so no secret is ever pickled into the job table.

Beside the schedules of settings.yaml, the scheduler keeps the store tidy (`upkeep`: the retention
of raw engagement events, `tracking.raw_days`, and on PostgreSQL the outbox's VACUUM): hourly in
the daemon, and at each `run_due`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.cron import CronTrigger

from digest import outbox
from digest.compose import IsoWeek
from digest.context import Context
from digest.outbox import DeliveryReport
from digest.schedule import jobs
from digest.schedule.ingest import PullReport, pull_feeds
from digest.schedule.jobs import company_job, weekly_job
from digest.schedule.status import digest_statuses

log = logging.getLogger("digest")

JOBS: dict[str, Callable[[Context], DeliveryReport | PullReport]] = {
    "weekly": weekly_job,
    "company": company_job,
    "ingest": pull_feeds,
}
JOB_TABLE = "apscheduler_jobs"
UPKEEP_CRON = "17 * * * *"  # hourly, off the hour the digests' runs are on

_running: Context | None = None  # the context of the process that runs the scheduler


def run_job(name: str) -> None:
    """What the job store points at: runs job `name` in the running process's context."""
    if _running is None:
        raise RuntimeError("a scheduled job ran outside `digest schedule`")
    report = JOBS[name](_running)
    log.info("job %s done: %s", name, report.words("nothing to deliver"))


class Scheduler(BackgroundScheduler):
    """APScheduler 3's BackgroundScheduler without one race: shutting down a paused scheduler
    wakes its thread, which then processes the due jobs once more (its pause check no longer
    holds), submits them to executors already shut down and moves them on in the job store."""

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def build_scheduler(ctx: Context) -> BackgroundScheduler:
    settings = ctx.settings
    scheduler = Scheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=ctx.store.engine, tablename=JOB_TABLE)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.schedules.misfire_grace_seconds,
        },
        timezone=settings.site.zone,
    )
    scheduler.add_listener(log_missed, EVENT_JOB_MISSED)
    return scheduler


def reconcile(scheduler: BackgroundScheduler, ctx: Context) -> None:
    """Make the stored jobs match settings.yaml (see the module docstring)."""
    configured = ctx.settings.schedules
    schedules = {
        "weekly": configured.weekly,
        "company": configured.company,
        "ingest": configured.ingest,
    }
    zone = ctx.settings.site.zone
    for job in scheduler.get_jobs():
        if job.id not in schedules or not schedules[job.id].enabled:
            log.info("schedule %s removed", job.id)
            job.remove()
    for name, schedule in schedules.items():
        if not schedule.enabled:
            continue
        trigger = CronTrigger.from_crontab(schedule.cron, timezone=zone)
        existing = scheduler.get_job(name)
        if existing is not None and str(existing.trigger) == str(trigger):
            continue
        scheduler.add_job(
            run_job,
            trigger,
            id=name,
            name=name,
            kwargs={"name": name},
            replace_existing=True,
            # From the application's clock, not APScheduler's own reading of the system's.
            next_run_time=trigger.get_next_fire_time(None, ctx.clock()),
        )
        log.info("schedule %s set to %r (%s)", name, schedule.cron, zone.key)


def upkeep(ctx: Context) -> None:
    """The store's housekeeping, hourly: raw engagement events past their retention, and
    sign-ups never confirmed, are deleted; on PostgreSQL the outbox is vacuumed
    (outbox/vacuum.py says why autovacuum is not relied on)."""
    log.info("upkeep: %s", jobs.retention(ctx).words())
    if outbox.vacuum(ctx.store.engine):
        log.info("upkeep: the outbox vacuumed")


@dataclass(frozen=True, slots=True)
class LateRun:
    """A schedule's latest run whose time has come and whose digests were never planned."""

    name: str  # "weekly" or "company"
    due_at: datetime
    week: IsoWeek
    digest_keys: tuple[str, ...]
    missed: bool  # its grace is over: it is not run any more, an editor decides

    def words(self) -> str:
        return (
            f"{self.name}: missed the run of {self.due_at:%a %Y-%m-%d %H:%M %Z} for {self.week} "
            f"({_plural(len(self.digest_keys), 'digest')} never planned: the scheduler was not "
            f"running then); send it with `digest send {self.name} --week {self.week}` or from "
            "the editor's page of each digest"
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def late_runs(ctx: Context) -> list[LateRun]:
    """The weekly and company runs for the last complete week that should have planned their
    digests by now and did not (digests with news that nothing holds back)."""
    now, week = ctx.clock(), jobs.last_complete_week(ctx)
    grace = timedelta(seconds=ctx.settings.schedules.misfire_grace_seconds)
    found = []
    for name, digests in (
        ("weekly", [jobs.compose_weekly(ctx, week)]),
        ("company", jobs.compose_companies(ctx, week)),
    ):
        statuses = list(digest_statuses(ctx, [d for d in digests if d.entries]).values())
        late = [
            status
            for status in statuses
            if not status.is_out and status.waiting is None and status.send_at is not None
            if status.send_at <= now
        ]
        if late and late[0].send_at is not None:
            due = late[0].send_at
            keys = tuple(status.key for status in late)
            found.append(LateRun(name, due, week, keys, missed=now > due + grace))
    return found


def missed_runs(ctx: Context) -> list[LateRun]:
    """The latest runs never made whose grace is over (`digest schedule --once` says them)."""
    return [run for run in late_runs(ctx) if run.missed]


def catch_up(scheduler: BackgroundScheduler, ctx: Context) -> None:
    """A run within its grace that the job store will not make (the job is new: a first start,
    a cron just changed) is made due now, as coalescing would have made it."""
    for run in late_runs(ctx):
        job = scheduler.get_job(run.name)
        if not run.missed and job is not None and job.next_run_time > ctx.clock():
            log.info("the %s run due at %s has not been made: making it now", run.name, run.due_at)
            job.modify(next_run_time=run.due_at)


def log_missed(event: JobExecutionEvent) -> None:
    """APScheduler skips a run missed by more than the grace; say which, and why."""
    log.warning(
        "the %s run due at %s was skipped: the scheduler was not running then and "
        "schedules.misfire_grace_seconds has passed; see `digest schedule --once` or the editor "
        "to send it now",
        event.job_id,
        f"{event.scheduled_run_time:%a %Y-%m-%d %H:%M %Z}",
    )


@dataclass(frozen=True, slots=True)
class DueRun:
    name: str
    due_at: datetime
    ran: bool  # False: missed by more than the grace period, skipped as stale


def run_due(ctx: Context, now: datetime) -> list[DueRun]:
    """Run, once each, the jobs due at `now`, then move each to its next time; for cron use."""
    global _running
    ctx = replace(ctx, clock=lambda: now)  # the jobs, too, see the moment they run for
    scheduler = build_scheduler(ctx)
    scheduler.start(paused=True)
    runs = []
    grace = timedelta(seconds=ctx.settings.schedules.misfire_grace_seconds)
    try:
        reconcile(scheduler, ctx)
        catch_up(scheduler, ctx)
        _running = ctx
        upkeep(ctx)
        for job in scheduler.get_jobs():
            if job.next_run_time is None or job.next_run_time > now:
                continue
            fresh = now - job.next_run_time <= grace
            runs.append(DueRun(job.id, job.next_run_time, fresh))
            if fresh:
                run_job(job.id)
            else:
                log.warning("job %s was due at %s: stale, skipped", job.id, job.next_run_time)
            # One run stands for every missed one (coalescing); the next is after `now`.
            job.modify(next_run_time=job.trigger.get_next_fire_time(None, now))
    finally:
        _running = None
        scheduler.shutdown(wait=False)
    return runs


def run_forever(ctx: Context, stop: threading.Event) -> None:
    """The daemon: runs jobs at their times until `stop` is set."""
    global _running
    scheduler = build_scheduler(ctx)
    scheduler.start(paused=True)
    _running = ctx
    try:
        reconcile(scheduler, ctx)
        catch_up(scheduler, ctx)
        for missed in missed_runs(ctx):
            log.warning("%s", missed.words())
        upkeep(ctx)
        # Not a stored job: nothing of it needs to outlive the process.
        scheduler.add_jobstore(MemoryJobStore(), "upkeep")
        hourly = CronTrigger.from_crontab(UPKEEP_CRON, timezone=ctx.settings.site.zone)
        scheduler.add_job(
            upkeep,
            hourly,
            args=[ctx],
            id="upkeep",
            jobstore="upkeep",
            next_run_time=hourly.get_next_fire_time(None, ctx.clock()),
        )
        scheduler.resume()
        for job in scheduler.get_jobs():
            log.info("next %s run: %s", job.id, job.next_run_time)
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        _running = None
