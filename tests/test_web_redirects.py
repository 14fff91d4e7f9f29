"""The /r/ redirect and the open pixel: only to the signed target, and every hit counted."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.applications import Starlette

from digest.context import Context
from digest.engagement import LinkSigner, TrackedLinks
from digest.ingest import read_sources, read_subscribers
from digest.links import make_timed_token, make_token
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.schedule.deliverer import deliver_due
from digest.settings import parse_settings
from digest.store import Store, schema
from digest.store.engagement import link_counts
from digest.web.app import create_app
from digest.web.public.redirects import PIXEL

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"
SENT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
LATER = SENT + timedelta(hours=3)
DIGEST = "weekly:2026-W48"
TARGET = "https://news.example.org/items/mistral-compute?utm_source=digest"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = LATER

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Context]:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["tracking"].update(weekly=True, opens=True, link_days=30)
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    yield Context(settings=settings, store=store, env=template_environment(), clock=Clock())
    store.close()


@pytest.fixture
def app(context: Context) -> Starlette:
    return create_app(context)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


def links(ctx: Context, *, reader: str = "") -> TrackedLinks:
    site, tracking = ctx.settings.site, ctx.settings.tracking
    return TrackedLinks.for_digest(site, tracking, DIGEST, now=SENT, reader=reader)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def counted(app: Starlette, **match: str) -> int:
    app.state.recorder.flush(everything=True)
    ctx: Context = app.state.ctx
    return sum(
        count.count
        for count in link_counts(ctx.store.engine, DIGEST)
        if all(getattr(count, key) == value for key, value in match.items())
    )


def retargeted(token: str, target: str) -> str:
    encoded, _, signature = token.rpartition(".")
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    forged = base64.urlsafe_b64encode(payload.replace(TARGET, target).encode()).decode()
    return f"{forged.rstrip('=')}.{signature}"


@pytest.mark.anyio
async def test_a_tracked_link_redirects_to_its_target_with_a_302_and_counts(
    client: httpx.AsyncClient, context: Context, app: Starlette
) -> None:
    response = await client.get(path_of(links(context).url(TARGET, "item:a")), headers=BROWSER)
    assert response.status_code == 302
    assert response.headers["location"] == TARGET
    assert "no-store" in response.headers["cache-control"]
    assert counted(app, link="item:a", verdict="reader") == 1


@pytest.mark.anyio
async def test_a_retargeted_or_tampered_link_is_refused_and_not_counted(
    client: httpx.AsyncClient, context: Context, app: Starlette
) -> None:
    token = path_of(links(context).url(TARGET, "item:a")).removeprefix("/r/")
    secret = context.settings.site.secret_key.reveal()
    for bad in (
        retargeted(token, "https://evil.example/phish"),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        LinkSigner("another-secret-of-length").link_token(
            LinkSigner(secret).read_link(token)  # type: ignore[arg-type]
        ),
        make_token(secret, "s0001", "unsubscribe"),  # a genuine token of another purpose
    ):
        response = await client.get(f"/r/{bad}", headers=BROWSER)
        assert response.status_code == 404, bad
        assert "location" not in response.headers
        assert "not one of ours" in response.text
    for path in (
        "/r/https%3A%2F%2Fevil.example",
        "/r//evil.example",
        "/r/?to=https://evil.example",
    ):
        assert "location" not in (await client.get(path, headers=BROWSER)).headers
    assert counted(app) == 0


@pytest.mark.anyio
async def test_a_per_subscriber_link_needs_its_genuine_reader_part(
    client: httpx.AsyncClient, context: Context, app: Starlette
) -> None:
    signer = LinkSigner.for_site(context.settings.site)
    reader = signer.reader_token(DIGEST, "s0001", int(SENT.timestamp()))
    url = links(context, reader=reader).url(TARGET, "item:a")
    assert (await client.get(path_of(url), headers=BROWSER)).status_code == 302
    other = signer.reader_token("weekly:2026-W47", "s0001", int(SENT.timestamp()))
    forged = links(context, reader=other).url(TARGET, "item:a")
    assert (await client.get(path_of(forged), headers=BROWSER)).status_code == 404
    assert counted(app, verdict="reader") == 1


@pytest.mark.anyio
async def test_an_expired_link_says_so_and_does_not_redirect(
    client: httpx.AsyncClient, context: Context, app: Starlette
) -> None:
    url = links(context).url(TARGET, "item:a")
    context.clock.now = SENT + timedelta(days=31)  # type: ignore[attr-defined]
    response = await client.get(path_of(url), headers=BROWSER)
    assert response.status_code == 410
    assert "location" not in response.headers and "expired" in response.text
    assert counted(app) == 0


@pytest.mark.anyio
async def test_scanners_are_redirected_too_but_counted_apart(
    client: httpx.AsyncClient, context: Context, app: Starlette
) -> None:
    path = path_of(links(context).url(TARGET, "item:a"))
    assert (await client.head(path, headers=BROWSER)).status_code == 302
    assert (await client.get(path, headers={"User-Agent": "curl/8.5.0"})).status_code == 302
    context.clock.now = SENT + timedelta(seconds=3)  # type: ignore[attr-defined]
    assert (await client.get(path, headers=BROWSER)).status_code == 302
    assert counted(app, verdict="scanner") == 3
    assert counted(app, verdict="reader") == 0


@pytest.mark.anyio
async def test_the_pixel_is_always_an_image_and_only_genuine_opens_count(
    client: httpx.AsyncClient, context: Context, app: Starlette
) -> None:
    genuine = await client.get(path_of(links(context).pixel()), headers=BROWSER)
    apple = await client.get(path_of(links(context).pixel()), headers={"User-Agent": "Mozilla/5.0"})
    bogus = await client.get("/o/not-a-token.gif", headers=BROWSER)
    click_as_pixel = path_of(links(context).url(TARGET, "item:a")).replace("/r/", "/o/") + ".gif"
    wrong_kind = await client.get(click_as_pixel, headers=BROWSER)
    for response in (genuine, apple, bogus, wrong_kind):
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/gif"
        assert response.content == PIXEL
    assert counted(app, kind="open", verdict="reader") == 1
    assert counted(app, kind="open", verdict="prefetch") == 1
    assert counted(app) == 2


URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(min_value=0, max_value=400),
    insert=st.text(alphabet=URL_SAFE, max_size=12),
    drop=st.integers(min_value=0, max_value=3),
)
def test_the_redirect_goes_only_to_the_signed_target(
    context: Context, app: Starlette, cut: int, insert: str, drop: int
) -> None:
    """Whatever is done to a genuine token, the answer is its own target or no redirect."""
    token = path_of(links(context).url(TARGET, "item:a")).removeprefix("/r/")
    index = cut % (len(token) + 1)
    changed = token[:index] + insert + token[index + drop :]

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            return await client.get(f"/r/{changed}", headers=BROWSER)

    response = anyio.run(fetch)
    if changed == token:
        assert response.headers["location"] == TARGET
    else:
        assert response.status_code == 404 and "location" not in response.headers


@pytest.mark.anyio
async def test_hits_are_written_by_the_background_task_and_on_shutdown(context: Context) -> None:
    tracking = replace(context.settings.tracking, flush_seconds=0.1)
    context.settings = replace(context.settings, tracking=tracking)
    app = create_app(context)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        url = links(context).url(TARGET, "item:a")
        assert (await client.get(path_of(url), headers=BROWSER)).status_code == 302
        clicked = await client.get(path_of(links(context).url(TARGET, "item:b")), headers=BROWSER)
        assert clicked.status_code == 302
        context.clock.now += timedelta(seconds=10)  # type: ignore[attr-defined]
        await anyio.sleep(0.5)
        assert app.state.recorder.pending == 0  # written while the app runs
        context.clock.now -= timedelta(seconds=10)  # type: ignore[attr-defined]
        assert (await client.get(path_of(url), headers=BROWSER)).status_code == 302
    assert app.state.recorder.pending == 0  # and what was left, as it stopped
    assert sum(count.count for count in link_counts(context.store.engine, DIGEST)) == 3


# A real send: the delivered emails' links ---------------------------------------------------------

TRACKED_URL = re.compile(r"https://[^/\s]+/r/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@pytest.fixture
def sending(tmp_path: Path, database_url: str) -> Iterator[Context]:
    """The sample week and subscribers, weekly links tracked per subscriber, the file adapter."""
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["tracking"].update(weekly=True, per_subscriber=True, opens=True)
    raw["email"]["options"]["directory"] = str(tmp_path / "outbox" / "email")
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    store = Store.open(database_url)
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
    clock = Clock()
    clock.now = SENT
    yield Context(settings=settings, store=store, env=template_environment(), clock=clock)
    store.close()


@pytest.mark.anyio
async def test_a_delivered_emails_links_are_tracked_and_delete_me_erases_the_clicks(
    sending: Context, tmp_path: Path
) -> None:
    """Every link of the email is a /r/ link naming its reader; a click on one reaches the item
    and is counted for that subscriber, whose "delete me" then erases it (both backends)."""
    jobs.plan_email(sending, jobs.compose_weekly(sending, jobs.IsoWeek(2026, 48)))
    deliver_due(sending)
    sent = email.message_from_bytes(
        sorted((tmp_path / "outbox" / "email").glob("*.eml"))[0].read_bytes(),
        policy=email.policy.default,
    )
    subscriber = next(s for s in sending.store.subscribers() if s.email in str(sent["To"]))
    text = sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = sent.get_body(("html",)).get_content()  # type: ignore[union-attr]
    clicks = TRACKED_URL.findall(text)
    assert clicks and set(TRACKED_URL.findall(html)) >= set(clicks)
    assert "/o/" in html  # the pixel
    signer = LinkSigner.for_site(sending.settings.site)
    token, reader = path_of(clicks[0]).removeprefix("/r/").split("/")
    link, who = signer.read_link(token), signer.read_reader(reader, "weekly:2026-W48")
    assert link is not None and who is not None and who.subscriber_id == subscriber.id

    sending.clock.now = SENT + timedelta(hours=2)  # type: ignore[attr-defined]
    app = create_app(sending)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get(path_of(clicks[0]), headers=BROWSER)
        assert response.status_code == 302 and response.headers["location"] == link.target
        assert counted(app, link=link.name, verdict="reader") == 1
        data = sending.store.subscriber_data(subscriber.id)
        assert data is not None and [e["link"] for e in data["engagement"]] == [link.name]
        secret = sending.settings.site.secret_key.reveal()
        issued = sending.clock()
        delete = f"/delete-me/{make_timed_token(secret, subscriber.id, 'delete', issued)}"
        assert (await client.post(delete)).status_code == 200
    with sending.store.engine.connect() as connection:
        for table in (schema.engagement_events, schema.engagement_readers):
            assert subscriber.id not in connection.scalars(select(table.c.subscriber_id)).all()
    assert counted(app, link=link.name, verdict="reader") == 1  # the counts name nobody
