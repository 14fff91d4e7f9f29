"""Shared fixtures: a database on each backend, and a store opened on it.

`database_url` runs a test once on SQLite (a file in tmp_path) and once on PostgreSQL (a fresh
schema of its own, dropped afterwards, so parallel runs never meet). PostgreSQL comes from
DIGEST_TEST_POSTGRES_URL; when it cannot be reached the PostgreSQL runs are skipped, except in CI
(CI=true), where nothing may be skipped and they fail instead.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from digest.store import Store

pytest_plugins = ["api_support"]  # the API's seeded stores: `seeded`, `world`

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    return os.environ.get("DIGEST_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@functools.cache
def _postgres_admin() -> Engine | str:
    """An engine on the test server, or why there is none (asked once per run)."""
    url = _postgres_url()
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        engine.dispose()
        masked = make_url(url).render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return (
            f"PostgreSQL not reachable at {masked} ({reason}): start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
            "or set DIGEST_TEST_POSTGRES_URL"
        )
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'digest.db'}"
        return
    admin = _postgres_admin()
    if isinstance(admin, str):
        if os.environ.get("CI") == "true":
            pytest.fail(admin)
        pytest.skip(admin)
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # Every connection of the test, the Alembic version table included, lives in that schema.
    url = make_url(_postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    opened = Store.open(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through Playwright (see tests/web_support.py for where it comes from).

    One per module, not per session: Playwright's sync API keeps an asyncio loop running in the
    main thread while it is open, and the async (anyio) tests of later modules need that thread.
    """
    from playwright.sync_api import sync_playwright
    from web_support import CHROMIUM_FLAGS, chromium_path

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


SHARED_TEST_IDS = pytest.StashKey[frozenset[str]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    counts = Counter(item.nodeid for item in items)
    config.stash[SHARED_TEST_IDS] = frozenset(nodeid for nodeid, n in counts.items() if n > 1)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test whose id another test shares: pytest-xdist schedules by id, so it would run
    one of them and leave the others out without a word (pytest 9.2 gave schemathesis'
    operations one id)."""
    if item.nodeid in item.config.stash[SHARED_TEST_IDS]:
        pytest.fail(
            f"{item.nodeid} is the id of more than one test, so a parallel run leaves all but "
            "one out: give each test its own id",
            pytrace=False,
        )
