"""The archive: "view in browser" pages with no personal data, and their index."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.settings import parse_settings
from digest.store import Store
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Context]:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
    ctx = Context(settings=settings, store=store, env=template_environment())
    yield ctx
    store.close()


@pytest.fixture
async def client(context: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


@pytest.mark.anyio
async def test_the_archive_lists_planned_digests(
    client: httpx.AsyncClient, context: Context
) -> None:
    empty = await client.get("/archive")
    assert "No digest has gone out yet." in empty.text
    week = jobs.latest_week(context)
    assert week is not None
    jobs.plan_email(context, jobs.compose_weekly(context, week))
    response = await client.get("/archive")
    assert response.status_code == 200
    assert 'href="/archive/weekly:2026-W48"' in response.text
    assert "23–29 November 2026" in response.text


@pytest.mark.anyio
async def test_an_archived_digest_has_no_personal_data(
    client: httpx.AsyncClient, context: Context
) -> None:
    week = jobs.latest_week(context)
    assert week is not None
    jobs.plan_email(context, jobs.compose_weekly(context, week))
    response = await client.get("/archive/weekly:2026-W48")
    assert response.status_code == 200
    assert "Mistral AI is investing 1.2 billion euros" in response.text
    for subscriber in context.store.subscribers():
        assert subscriber.email not in response.text
    assert "/unsubscribe/" not in response.text and "/preferences/" not in response.text


@pytest.mark.anyio
async def test_an_unknown_digest_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/archive/weekly:1999-W01")
    assert response.status_code == 404
    assert "No digest has that address" in response.text
