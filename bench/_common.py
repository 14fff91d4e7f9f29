"""Shared set-up for the email benches: a store with the bundled sample, and its weekly digest."""

from __future__ import annotations

import resource
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from digest.cli import DATA, ingest_into
from digest.context import Context
from digest.models import Digest, Preferences, Subscriber
from digest.schedule import jobs
from digest.settings import Secret, Settings, load_settings


def sample_settings(
    directory: Path, *, database_url: str | None = None, **email: object
) -> Settings:
    """The bundled sample's settings, on the store in `directory` or at `database_url`."""
    settings = load_settings(str(DATA / "settings.yaml"), root=directory)
    url = database_url or f"sqlite:///{directory / 'bench.db'}"
    settings = replace(settings, database=replace(settings.database, url=Secret(url)))
    if email:
        settings = replace(settings, email=replace(settings.email, **email))
    return settings


def sample_context(directory: Path, *, database_url: str | None = None, **email: object) -> Context:
    """A fresh store in `directory` holding the bundled sample items (the default weekly digest)."""
    ctx = Context.open(sample_settings(directory, database_url=database_url, **email))
    ingest_into(ctx, [str(DATA / "sample.yaml")])
    return ctx


def weekly(ctx: Context) -> Digest:
    week = jobs.latest_week(ctx)
    assert week is not None
    return jobs.compose_weekly(ctx, week)


def subscribers(count: int, *, start: int = 0) -> list[Subscriber]:
    """Subscribers with a realistic mix: a few non-ASCII names, some following companies."""
    names = ("Ada Lovelace", "Zoë Łukasiewicz", "Grace Hopper", "Jean Dupont", "Mei Chen")
    people = []
    for n in range(start, start + count):
        follows = ("mistral-ai",) if n % 3 == 0 else ()
        people.append(
            Subscriber(
                id=f"s{n:07d}",
                email=f"reader{n}@example.com",
                name=f"{names[n % len(names)]} {n}",
                preferences=Preferences(companies=follows),
            )
        )
    return people


@contextmanager
def database(target: str, folder: Path) -> Iterator[str]:
    """An empty database's URL: "sqlite" for a file in `folder`, or a PostgreSQL URL for a
    schema of its own there, dropped afterwards."""
    if target == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = create_engine(target)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(target).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


__all__ = ["Settings", "peak_rss_mb", "sample_context", "sample_settings", "subscribers", "weekly"]
