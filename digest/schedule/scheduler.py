"""APScheduler 3 around the jobs: cron schedules from settings.yaml, kept in the same database.

Jobs are reconciled from the settings at every start: a schedule whose cron did not change keeps
its stored next run time, so a run missed during downtime still happens once (coalesced) if it is
within the misfire grace period, and is skipped as stale if not; a changed cron replaces the job;
a disabled or removed one is deleted. Job rows hold only the job's name: the process that runs
them supplies the context (settings, store), so no secret is ever pickled into the job table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.context import Context
from digest.outbox import DeliveryReport
from digest.schedule.jobs import company_job, weekly_job

log = logging.getLogger("digest")

JOBS: dict[str, Callable[[Context], DeliveryReport]] = {
    "weekly": weekly_job,
    "company": company_job,
}
JOB_TABLE = "apscheduler_jobs"

_running: Context | None = None  # the context of the process that runs the scheduler


def run_job(name: str) -> None:
    """What the job store points at: runs job `name` in the running process's context."""
    if _running is None:
        raise RuntimeError("a scheduled job ran outside `digest schedule`")
    report = JOBS[name](_running)
    log.info("job %s done: %s", name, report.states or "nothing to deliver")


def build_scheduler(ctx: Context) -> BackgroundScheduler:
    settings = ctx.settings
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=ctx.store.engine, tablename=JOB_TABLE)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.schedules.misfire_grace_seconds,
        },
        timezone=settings.site.zone,
    )


def reconcile(scheduler: BackgroundScheduler, ctx: Context) -> None:
    """Make the stored jobs match settings.yaml (see the module docstring)."""
    schedules = {"weekly": ctx.settings.schedules.weekly, "company": ctx.settings.schedules.company}
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
            run_job, trigger, id=name, name=name, kwargs={"name": name}, replace_existing=True
        )
        log.info("schedule %s set to %r (%s)", name, schedule.cron, zone.key)


@dataclass(frozen=True, slots=True)
class DueRun:
    name: str
    due_at: datetime
    ran: bool  # False: missed by more than the grace period, skipped as stale


def run_due(ctx: Context, now: datetime) -> list[DueRun]:
    """Run, once each, the jobs due at `now`, then move each to its next time; for cron use."""
    global _running
    scheduler = build_scheduler(ctx)
    scheduler.start(paused=True)
    runs = []
    grace = timedelta(seconds=ctx.settings.schedules.misfire_grace_seconds)
    try:
        reconcile(scheduler, ctx)
        _running = ctx
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
        scheduler.resume()
        for job in scheduler.get_jobs():
            log.info("next %s run: %s", job.id, job.next_run_time)
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        _running = None
