"""Sign-up where the readers are (issue 12, item 5) and its limits (issue 10): `/subscribe`
preselecting a company or topic, the embedded form other sites post from, the honeypot, the
limit per client address and the one confirmation per address in ten minutes. On SQLite and
PostgreSQL, through httpx's ASGI transport, with the app's clock moved by hand."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from web_support import Clock

from digest.context import Context
from digest.ingest import read_sources
from digest.links import make_timed_token
from digest.models import Preferences, SubscriberStatus
from digest.render.templates import template_environment
from digest.settings import parse_settings
from digest.store import Store, schema
from digest.store.accounts import Role, create_account
from digest.web.app import create_app
from digest.web.throttle import SIGNUP_PER_CLIENT

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
ELSEWHERE = {"Origin": "https://blog.example", "Sec-Fetch-Site": "cross-site"}
HOSTILE = 'Evil <script>alert(1)</script> & "Co"'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def context(store: Store, tmp_path: Path, clock: Clock) -> Context:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    hostile = tmp_path / "hostile.yaml"
    company = {"slug": "evil-co", "name": HOSTILE, "sector": "Chips", "country": "US",
               "hashtag": "EvilCo", "profile_url": "https://example.com/evil"}  # fmt: skip
    hostile.write_text(yaml.safe_dump({"companies": [company]}))
    store.write_batch(read_sources([str(REPO / "digest" / "data" / "sample.yaml"), str(hostile)]))
    create_account(store.engine, name="Mia Marketing", email="mia@example.org",
                   role=Role.MARKETING, password=PASSWORD, now=NOW)  # fmt: skip
    return Context(settings=settings, store=store, env=template_environment(), clock=clock)


def client_of(context: Context, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(context), client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


@pytest.fixture
async def client(context: Context) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(context) as client:
        yield client


def confirmations(ctx: Context) -> int:
    with ctx.store.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(schema.deliveries)) or 0)


async def own_form(client: httpx.AsyncClient, query: str = "") -> dict[str, list[str]]:
    """The fields /subscribe offers, as a browser would send them."""
    page = await client.get(f"/subscribe{query}")
    assert page.status_code == 200
    return form_fields(page.text)


def form_fields(source: str) -> dict[str, list[str]]:
    """Each named field of the (first) form in `source` with what a browser sends for it."""
    fields: dict[str, list[str]] = {}

    class Fields(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if tag != "input" or not found.get("name"):
                return
            if found.get("type") == "checkbox" and "checked" not in found:
                return
            fields.setdefault(str(found["name"]), []).append(found.get("value") or "")

    Fields().feed(source)
    return fields


async def sign_up(
    client: httpx.AsyncClient, address: str, query: str = "", **more: list[str]
) -> httpx.Response:
    fields = await own_form(client, query)
    return await client.post("/subscribe", data={**fields, "email": [address], **more})


def answer_of(response: httpx.Response, address: str) -> str:
    """The answer page with the address taken out: what must read the same whoever asks."""
    return response.text.replace(address, "ADDRESS")


# Preselection ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_preselected_company_and_topic_are_followed_once_confirmed(
    client: httpx.AsyncClient, context: Context
) -> None:
    query = "?company=mistral-ai&company=no-such-company&topic=Compute+Economics&topic=Astrology"
    page = await client.get(f"/subscribe{query}")
    assert page.status_code == 200  # the unknown ones left out without a word
    assert "no-such-company" not in page.text and "Astrology" not in page.text
    assert (
        '<input type="checkbox" name="companies" value="mistral-ai" checked> '
        "Mistral AI: its own digest, each week"
    ) in page.text
    assert 'name="topics" value="Compute Economics" checked' in page.text
    # A hand-made post's unknown choice is dropped the same way.
    sent = await sign_up(client, "chooser@example.com", query, topics=["Compute Economics", "x"])
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    pending = context.store.subscriber_by_email("chooser@example.com")
    assert pending is not None and pending.status is SubscriberStatus.PENDING
    secret = context.settings.site.secret_key.reveal()
    link = make_timed_token(secret, pending.id, "confirm", context.clock())
    assert (await client.post(f"/confirm/{link}")).status_code == 200
    confirmed = context.store.subscriber(pending.id)
    assert confirmed is not None and confirmed.status is SubscriberStatus.ACTIVE
    assert confirmed.preferences == Preferences(
        companies=("mistral-ai",), topics=("Compute Economics",)
    )


@pytest.mark.anyio
async def test_what_a_reader_chose_on_the_form_outlives_a_later_import(
    client: httpx.AsyncClient, context: Context, clock: Clock
) -> None:
    await sign_up(client, "chooser@example.com", "?company=mistral-ai")
    pending = context.store.subscriber_by_email("chooser@example.com")
    assert pending is not None
    # The site's old list, imported a day later, has the same person following something else.
    listed = replace(pending, status=SubscriberStatus.ACTIVE,
                     preferences=Preferences(companies=("openai",)))  # fmt: skip
    counts = context.store.save_subscribers([listed], NOW + timedelta(days=1))
    assert (counts.updated, counts.kept) == (1, 1)
    kept = context.store.subscriber(pending.id)
    assert kept is not None and kept.preferences.companies == ("mistral-ai",)


@pytest.mark.anyio
async def test_an_unticked_preselection_is_not_followed(
    client: httpx.AsyncClient, context: Context
) -> None:
    fields = await own_form(client, "?company=mistral-ai")
    del fields["companies"]  # the reader unticked it
    await client.post("/subscribe", data={**fields, "email": ["plain@example.com"]})
    subscriber = context.store.subscriber_by_email("plain@example.com")
    assert subscriber is not None and subscriber.preferences == Preferences()


# Honeypot --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_filled_honeypot_stores_and_sends_nothing_and_is_answered_the_same(
    client: httpx.AsyncClient, context: Context
) -> None:
    fields = await own_form(client)
    assert fields["website"] == [""]
    page = (await client.get("/subscribe")).text
    assert '<div hidden aria-hidden="true">' in page and 'tabindex="-1"' in page
    person = await sign_up(client, "person@example.com")
    bot = await sign_up(client, "bot@example.com", website=["https://spam.example"])
    assert bot.status_code == person.status_code == 200
    assert answer_of(bot, "bot@example.com") == answer_of(person, "person@example.com")
    assert context.store.subscriber_by_email("bot@example.com") is None
    assert confirmations(context) == 1  # the person's only


# Per-client limit ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_sign_ups_past_the_limit_of_one_client_get_429_with_retry_after(
    context: Context, clock: Clock
) -> None:
    allowed = SIGNUP_PER_CLIENT.items[0].amount  # in the first window, a minute
    async with client_of(context, "203.0.113.7") as client:
        fields = await own_form(client)
        for number in range(allowed):
            data = {**fields, "email": [f"reader{number}@example.com"]}
            assert (await client.post("/subscribe", data=data)).status_code == 200
        # An address of its own choosing does not help: it is not behind the trusted proxy.
        again = await client.post(
            "/subscribe",
            data={**fields, "email": ["one.more@example.com"]},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )
        assert again.status_code == 429
        assert 0 < int(again.headers["Retry-After"]) <= 60
        assert "Too many sign-ups from your address. Wait" in again.text
        assert 'value="one.more@example.com"' in again.text  # the form kept, to send later
        assert context.store.subscriber_by_email("one.more@example.com") is None
        assert confirmations(context) == allowed
        # Someone else behind the proxy (the test client's own address) is not held up.
        async with client_of(context) as proxy:
            theirs = await own_form(proxy)
            other = await proxy.post(
                "/subscribe",
                data={**theirs, "email": ["neighbour@example.com"]},
                headers={"X-Forwarded-For": "198.51.100.2"},
            )
            assert other.status_code == 200
        clock.now += timedelta(seconds=int(again.headers["Retry-After"]))
        later = await client.post("/subscribe", data={**fields, "email": ["later@example.com"]})
        assert later.status_code == 200


# One confirmation per address in ten minutes --------------------------------------------------


@pytest.mark.anyio
async def test_an_address_gets_one_confirmation_in_ten_minutes(
    client: httpx.AsyncClient, context: Context, clock: Clock
) -> None:
    first = await sign_up(client, "twice@example.com")
    clock.now += timedelta(minutes=9, seconds=59)
    second = await sign_up(client, "TWICE@example.com")
    assert answer_of(second, "TWICE@example.com") == answer_of(first, "twice@example.com")
    assert confirmations(context) == 1
    clock.now = NOW + timedelta(minutes=10)
    await sign_up(client, "twice@example.com")
    assert confirmations(context) == 2


# The embedded form ----------------------------------------------------------------------------


async def desk_page(client: httpx.AsyncClient, query: str) -> str:
    login = await client.get("/editor/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    form = {"csrf_token": token.group(1), "name": "Mia Marketing", "password": PASSWORD}
    assert (await client.post("/editor/login", data=form)).status_code == 303
    page = await client.get(f"/editor/signup{query}")
    assert page.status_code == 200
    return page.text


def snippet(page: str, element_id: str) -> str:
    found = re.search(rf'<pre class="post" id="{element_id}">(.*?)</pre>', page, re.DOTALL)
    assert found is not None, f"no {element_id} on the page"
    return html.unescape(found.group(1))


@pytest.mark.anyio
async def test_the_desk_shows_both_snippets_escaped(
    client: httpx.AsyncClient, context: Context
) -> None:
    page = await desk_page(client, "?company=evil-co")
    assert "<script>alert(1)" not in page
    plain, scripted = snippet(page, "embed-plain"), snippet(page, "embed-script")
    # Pasted on another site, the company's name stays text.
    escaped = "Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;"
    assert escaped in plain and escaped in scripted
    assert "<script" not in plain
    assert form_fields(scripted) == form_fields(plain) == {
        "email": [""], "name": [""], "companies": ["evil-co"], "website": [""]
    }  # fmt: skip
    assert '<form class="digest-signup"' in scripted and " data-digest-signup>" in scripted
    assert '<script src="https://news.example.org/static/embed.js" defer></script>' in scripted
    assert snippet(page, "embed-link") == "https://news.example.org/subscribe?company=evil-co"


@pytest.mark.anyio
async def test_the_embedded_form_posts_from_another_site_without_a_cookie(
    context: Context,
) -> None:
    async with client_of(context) as desk:
        page = await desk_page(desk, "?company=mistral-ai&topic=Geopolitics")
    plain = snippet(page, "embed-plain")
    action = re.search(r'action="([^"]+)"', plain)
    assert action is not None
    path = urlsplit(action.group(1)).path
    async with client_of(context) as reader:  # a browser on the blog: no cookie of this site
        data = {**form_fields(plain), "email": ["blog.reader@example.com"]}
        answer = await reader.post(path, data=data, headers=ELSEWHERE)
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        assert "set-cookie" not in answer.headers
        # This site's own form still refuses a post from elsewhere.
        own = await reader.post("/subscribe", data=data, headers=ELSEWHERE)
        assert own.status_code == 403
    subscriber = context.store.subscriber_by_email("blog.reader@example.com")
    assert subscriber is not None and subscriber.status is SubscriberStatus.PENDING
    assert subscriber.preferences == Preferences(companies=("mistral-ai",), topics=("Geopolitics",))
    assert confirmations(context) == 1


@pytest.mark.anyio
async def test_the_embedded_forms_script_gets_its_answer_as_json_readable_anywhere(
    client: httpx.AsyncClient, context: Context
) -> None:
    script = await client.get("/static/embed.js")
    assert script.status_code == 200 and "data-digest-signup" in script.text
    fetched = {**ELSEWHERE, "Sec-Fetch-Mode": "cors", "Accept": "application/json"}
    sent = await client.post(
        "/subscribe/embed", data={"email": "script@example.com"}, headers=fetched
    )
    assert sent.status_code == 200 and sent.headers["Access-Control-Allow-Origin"] == "*"
    assert sent.json() == {
        "message": "Check your inbox: if script@example.com is not subscribed yet, a message "
        "to confirm it is on its way."
    }
    bad = await client.post("/subscribe/embed", data={"email": "no at sign"}, headers=fetched)
    assert bad.status_code == 400 and bad.json()["message"].startswith("Your address")
    caught = await client.post(
        "/subscribe/embed", data={"email": "bot@example.com", "website": "x"}, headers=fetched
    )
    assert caught.json() == {"message": sent.json()["message"].replace("script@", "bot@")}
    assert context.store.subscriber_by_email("bot@example.com") is None
    assert confirmations(context) == 1
