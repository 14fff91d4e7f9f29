"""A store holding the bundled sample's weekly digest and generated subscribers, with email
settings of the test's choosing: the common ground of the outbox, crash and scale-out tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from smtp_sink import Recorder, smtp_server
from sqlalchemy import select

from digest.context import Context
from digest.ingest import read_sources
from digest.models import Digest, Subscriber, SubscriberStatus
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.settings import Settings, parse_settings
from digest.store import Store
from digest.store.schema import deliveries

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "digest" / "data" / "sample.yaml"


def settings_with_email(root: Path, email: dict[str, Any], database_url: str) -> Settings:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["email"] = email
    raw["database"] = {"url": database_url}
    raw["social"] = []
    return parse_settings(raw, where="settings.yaml", root=root)


def readers(count: int) -> list[Subscriber]:
    return [
        Subscriber(id=f"r{n:05d}", email=f"reader{n}@example.com", name=f"Reader {n}")
        for n in range(count)
    ]


def fill(store: Store, subscribers: list[Subscriber]) -> None:
    store.write_batch(read_sources([str(SAMPLE)], known_companies=set(), known_items=set()))
    store.save_subscribers(subscribers)


def context(settings: Settings, store: Store) -> Context:
    return Context(settings=settings, store=store, env=template_environment())


def worker_environ() -> dict[str, str]:
    """The environment of a `digest worker` the test starts: its clock goes on from the test's.
    Under CI's libfaketime run with a start time (`faketime -f '@2027-03-28 01:30:00'`) each new
    process starts at that time again, so a worker would be behind the test by as long as the
    test has run, and the rows the test planned "now" would not be due for it yet."""
    return {**os.environ, "FAKETIME_DONT_RESET": "1", "PYTHONUNBUFFERED": "1"}


def plan_weekly(ctx: Context) -> Digest:
    week = jobs.latest_week(ctx)
    assert week is not None
    digest = jobs.compose_weekly(ctx, week)
    jobs.plan_email(ctx, digest, at_once=True)  # delivery, not timing, is tested
    return digest


def smtp_email(port: int, **options: Any) -> dict[str, Any]:
    return {
        "type": "smtp",
        "options": {"host": "127.0.0.1", "port": port, "security": "none", **options},
    }


def unsubscribe(store: Store, subscriber: Subscriber) -> None:
    store.save_subscribers([replace(subscriber, status=SubscriberStatus.UNSUBSCRIBED)])


def rows(store: Store) -> dict[str, dict[str, Any]]:
    """Every outbox row, by its target (the subscriber id)."""
    with store.engine.connect() as connection:
        found = connection.execute(select(deliveries)).mappings().all()
    return {row["target"]: dict(row) for row in found}


@contextmanager
def smtp_context(store: Store, root: Path, recorder: Recorder) -> Iterator[Context]:
    """A context sending through one SMTP connection to a real server on loopback, pausing after
    three failures in a row."""
    with smtp_server(recorder=recorder) as server:
        email = {**smtp_email(server.port, connections=1), "max_consecutive_failures": 3}
        yield context(settings_with_email(root, email, "sqlite://"), store)
