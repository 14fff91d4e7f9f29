"""The public pages, driven through httpx's ASGI transport: subscribe with double opt-in,
confirm, one-click unsubscribe (RFC 8058), the preference centre, download my data, delete me."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml
from sqlalchemy import select
from web_support import Clock

from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.links import LIFETIMES, make_timed_token, make_token
from digest.models import DeliveryState, Preferences, Subscriber, SubscriberStatus
from digest.names import person_name
from digest.render.templates import template_environment
from digest.schedule.deliverer import Deliverer
from digest.settings import Secret, Settings, parse_settings
from digest.store import Store, schema
from digest.store.rows import email_hash
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def open_context(store: Store, tmp_path: Path) -> Context:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
    return Context(settings=settings, store=store, env=template_environment(), clock=lambda: NOW)


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Context]:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    yield open_context(store, tmp_path)
    store.close()


@pytest.fixture
async def client(context: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


def token(ctx: Context, subscriber_id: str, purpose: str, issued: datetime = NOW) -> str:
    """A link's token: a timed purpose's (confirm, data, delete) issued at `issued`."""
    secret = ctx.settings.site.secret_key.reveal()
    if purpose in LIFETIMES:
        return make_timed_token(secret, subscriber_id, purpose, issued)  # type: ignore[arg-type]
    return make_token(secret, subscriber_id, purpose)  # type: ignore[arg-type]


def tampered(value: str) -> str:
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def outbox_rows(ctx: Context) -> list[dict[str, object]]:
    with ctx.store.engine.connect() as connection:
        rows = connection.execute(select(schema.deliveries).order_by(schema.deliveries.c.id))
        return [dict(row._mapping) for row in rows]


def suppression(ctx: Context, address: str) -> str | None:
    return ctx.store.suppression_reasons([address]).get(address.lower())


async def subscribe(client: httpx.AsyncClient, address: str, name: str = "") -> httpx.Response:
    form = await client.get("/subscribe")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return await client.post(
        "/subscribe", data={"email": address, "name": name, "csrf": csrf.group(1)}
    )


def first_active(ctx: Context) -> str:
    return ctx.store.subscribers([SubscriberStatus.ACTIVE])[0].id


# Subscribe -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_subscribing_makes_a_pending_subscriber_and_plans_its_confirmation(
    client: httpx.AsyncClient, context: Context
) -> None:
    response = await subscribe(client, "New.Reader@Example.ORG", "New Reader")
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    subscriber = context.store.subscriber_by_email("new.reader@example.org")
    assert subscriber is not None
    assert subscriber.status is SubscriberStatus.PENDING
    assert subscriber.email == "New.Reader@example.org"  # the domain normalised, not the name
    assert subscriber.name == "New Reader" and subscriber.id.startswith("web-")
    [row] = outbox_rows(context)
    assert row["payload"] == {"kind": "confirmation"}
    assert row["target"] == subscriber.id and row["state"] == DeliveryState.PLANNED.value
    # Sent again within the hour: still one message, and still the same answer.
    again = await subscribe(client, "new.reader@example.org")
    assert again.status_code == 200 and "Check your inbox" in again.text
    assert len(outbox_rows(context)) == 1


@pytest.mark.anyio
async def test_the_form_needs_its_anti_forgery_value(
    client: httpx.AsyncClient, context: Context
) -> None:
    forged = await client.post("/subscribe", data={"email": "victim@example.com", "csrf": "x" * 43})
    assert forged.status_code == 403
    assert "This form had expired" in forged.text
    assert context.store.subscriber_by_email("victim@example.com") is None
    assert outbox_rows(context) == []


@pytest.mark.anyio
async def test_a_bad_address_is_refused_with_the_reason(
    client: httpx.AsyncClient, context: Context
) -> None:
    response = await subscribe(client, "someone at example.com")
    assert response.status_code == 400
    assert "contains spaces or line breaks" in response.text
    assert 'value="someone at example.com"' in response.text  # kept in the form, to correct
    assert outbox_rows(context) == []


@pytest.mark.anyio
async def test_an_active_subscriber_gets_the_same_answer_and_no_message(
    client: httpx.AsyncClient, context: Context
) -> None:
    active = context.store.subscriber(first_active(context))
    assert active is not None
    response = await subscribe(client, active.email.upper())
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert outbox_rows(context) == []
    assert context.store.subscriber(active.id) == active


@pytest.mark.anyio
async def test_untrusted_names_are_escaped_and_kept_on_one_line(
    client: httpx.AsyncClient, context: Context
) -> None:
    await subscribe(client, "mallory@example.com", "<script>alert(1)</script>\r\nBcc: x@evil.test")
    subscriber = context.store.subscriber_by_email("mallory@example.com")
    assert subscriber is not None
    assert subscriber.name == "<script>alert(1)</script> Bcc: x@evil.test"
    page = await client.get(f"/confirm/{token(context, subscriber.id, 'confirm')}")
    assert "<script>" not in page.text


# Confirm -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_confirming_takes_a_post_from_the_page_the_link_opens(
    client: httpx.AsyncClient, context: Context
) -> None:
    await subscribe(client, "ines@example.com")
    subscriber = context.store.subscriber_by_email("ines@example.com")
    assert subscriber is not None
    link = f"/confirm/{token(context, subscriber.id, 'confirm')}"
    page = await client.get(link)
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert context.store.subscriber(subscriber.id).status is SubscriberStatus.PENDING  # type: ignore[union-attr]
    done = await client.post(link)
    assert done.status_code == 200 and "You're subscribed" in done.text
    preferences = f"/preferences/{token(context, subscriber.id, 'preferences')}"
    assert preferences in done.text
    assert context.store.subscriber(subscriber.id).status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]
    with context.store.engine.connect() as connection:
        confirmed_at = connection.scalar(
            select(schema.subscribers.c.confirmed_at).where(
                schema.subscribers.c.id == subscriber.id
            )
        )
    assert confirmed_at == NOW


@pytest.mark.anyio
async def test_coming_back_after_unsubscribing_needs_a_new_confirmation(
    client: httpx.AsyncClient, context: Context
) -> None:
    subscriber = context.store.subscriber(first_active(context))
    assert subscriber is not None
    leave = f"/unsubscribe/{token(context, subscriber.id, 'unsubscribe')}"
    await client.post(leave, content=ONE_CLICK, headers=FORM)
    assert suppression(context, subscriber.email) == "unsubscribed"
    # An old confirmation link brings nobody back.
    old = await client.post(f"/confirm/{token(context, subscriber.id, 'confirm')}")
    assert old.status_code == 409 and "This link has expired" in old.text
    assert context.store.subscriber(subscriber.id).status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
    # Subscribing again: pending until confirmed, then active and off the suppression list.
    await subscribe(client, subscriber.email)
    assert context.store.subscriber(subscriber.id).status is SubscriberStatus.PENDING  # type: ignore[union-attr]
    assert [row["target"] for row in outbox_rows(context)] == [subscriber.id]
    await client.post(f"/confirm/{token(context, subscriber.id, 'confirm')}")
    assert context.store.subscriber(subscriber.id).status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]
    assert suppression(context, subscriber.email) is None


# Tokens --------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "purpose", "body"),
    [
        ("POST", "/confirm/{}", "confirm", ""),
        ("POST", "/unsubscribe/{}", "unsubscribe", ONE_CLICK),
        ("GET", "/unsubscribe/{}", "unsubscribe", ""),
        ("GET", "/preferences/{}", "preferences", ""),
        ("POST", "/preferences/{}", "preferences", "format=text&timezone=UTC&send_hour=5"),
        ("POST", "/preferences/{}/data", "preferences", ""),
        ("POST", "/preferences/{}/delete", "preferences", ""),
        ("GET", "/my-data/{}", "data", ""),
        ("POST", "/delete-me/{}", "delete", ""),
    ],
)
async def test_a_tampered_token_or_one_of_another_purpose_is_a_404_and_changes_nothing(
    client: httpx.AsyncClient, context: Context, method: str, path: str, purpose: str, body: str
) -> None:
    subscriber_id = first_active(context)
    context.store.request_subscription(
        email="pending@example.com",
        name=person_name(""),
        new_id="web-pending",
        timezone="UTC",
        now=NOW,
    )
    before = context.store.subscribers()
    others = {"confirm", "preferences", "unsubscribe", "data", "delete"} - {purpose}
    for target in (subscriber_id, "web-pending"):
        genuine = token(context, target, purpose)
        forged_id = token(replace(context, settings=other_secret(context)), target, purpose)
        bad = [tampered(genuine), forged_id, *(token(context, target, p) for p in others)]
        for value in bad:
            response = await client.request(method, path.format(value), content=body, headers=FORM)
            assert response.status_code == 404, (value, response.text)
            assert "This link is not valid" in response.text
    assert context.store.subscribers() == before
    assert suppression(context, before[0].email) is None
    assert outbox_rows(context) == []  # no private link was mailed either


def other_secret(ctx: Context) -> Settings:
    site = replace(ctx.settings.site, secret_key=Secret("another-secret-entirely"))
    return replace(ctx.settings, site=site)


# Unsubscribe ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_get_on_the_unsubscribe_link_shows_a_button_and_changes_nothing(
    client: httpx.AsyncClient, context: Context
) -> None:
    subscriber_id = first_active(context)
    response = await client.get(f"/unsubscribe/{token(context, subscriber_id, 'unsubscribe')}")
    assert response.status_code == 200
    assert '<form method="post">' in response.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in response.text
    assert context.store.subscriber(subscriber_id).status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_one_click_unsubscribes_at_once_and_answers_200_without_a_redirect(
    client: httpx.AsyncClient, context: Context
) -> None:
    subscriber = context.store.subscriber(first_active(context))
    assert subscriber is not None
    link = f"/unsubscribe/{token(context, subscriber.id, 'unsubscribe')}"
    response = await client.post(link, content=ONE_CLICK, headers=FORM)
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "You're unsubscribed" in response.text
    assert context.store.subscriber(subscriber.id).status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
    assert suppression(context, subscriber.email) == "unsubscribed"
    # A mail provider may post it twice; the page's own button posts multipart or urlencoded.
    again = await client.post(link, files={"List-Unsubscribe": (None, "One-Click")})
    assert again.status_code == 200


@pytest.mark.anyio
async def test_a_post_without_the_one_click_body_changes_nothing(
    client: httpx.AsyncClient, context: Context
) -> None:
    subscriber_id = first_active(context)
    link = f"/unsubscribe/{token(context, subscriber_id, 'unsubscribe')}"
    for body in ("", "List-Unsubscribe=Yes", "unsubscribe=One-Click"):
        response = await client.post(link, content=body, headers=FORM)
        assert response.status_code == 400
    assert context.store.subscriber(subscriber_id).status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]


# Preferences ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_preferences_are_validated_and_nothing_is_saved_when_one_field_is_wrong(
    client: httpx.AsyncClient, context: Context
) -> None:
    subscriber = context.store.subscriber(first_active(context))
    assert subscriber is not None
    link = f"/preferences/{token(context, subscriber.id, 'preferences')}"
    page = await client.get(link)
    assert page.status_code == 200
    assert 'value="mistral-ai"' in page.text and "Mistral AI" in page.text
    assert 'value="Geopolitics"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    bad = {
        "weekly": "on",
        "companies": ["mistral-ai", "opnai"],
        "topics": ["Geopolitcs"],
        "format": "pdf",
        "timezone": "Europe/Pariss",
        "send_hour": "24",
    }
    refused = await client.post(link, data=bad)
    assert refused.status_code == 400
    for problem in (
        "unknown company &#34;opnai&#34;; did you mean &#34;openai&#34;?",
        "unknown topic &#34;Geopolitcs&#34;; did you mean &#34;Geopolitics&#34;?",
        "choose HTML or plain text",
        "did you mean &#34;Europe/Paris&#34;?",
        "choose an hour from 0 to 23",
    ):
        assert problem in refused.text
    assert context.store.subscriber(subscriber.id) == subscriber


@pytest.mark.anyio
async def test_saved_preferences_decide_what_they_receive(
    client: httpx.AsyncClient, context: Context
) -> None:
    subscriber = context.store.subscriber(first_active(context))
    assert subscriber is not None
    link = f"/preferences/{token(context, subscriber.id, 'preferences')}"
    chosen = {
        "companies": ["openai", "mistral-ai"],
        "topics": ["Geopolitics"],
        "format": "text",
        "timezone": "America/New_York",
        "send_hour": "6",
    }  # "weekly" unticked: no weekly digest
    response = await client.post(link, data=chosen)
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"{link}?saved=1")
    saved = context.store.subscriber(subscriber.id)
    assert saved is not None
    assert saved.preferences == Preferences(
        weekly=False,
        companies=("openai", "mistral-ai"),
        topics=("Geopolitics",),
        send_hour=6,
        format="text",
    )
    assert saved.timezone == "America/New_York"
    # Their own choice, which a re-import keeps (issue 12 item 8).
    data = context.store.subscriber_data(subscriber.id)
    assert data is not None and data["subscriber"]["preferences_changed_at"] == NOW.isoformat()
    shown = await client.get(f"{link}?saved=1")
    assert "Saved." in shown.text
    assert "<option selected>America/New_York</option>" in shown.text


# Their data ----------------------------------------------------------------------------------


def plan_weekly(ctx: Context) -> None:
    from digest.schedule import jobs

    week = jobs.latest_week(ctx)
    assert week is not None
    jobs.plan_email(ctx, jobs.compose_weekly(ctx, week), at_once=True)


@pytest.fixture
def clocked(store: Store, tmp_path: Path) -> Context:
    """The sample store, on both backends, with a clock the test moves."""
    return replace(open_context(store, tmp_path), clock=Clock(NOW))


@pytest.fixture
async def clocked_client(clocked: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(clocked))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


def at(ctx: Context, moment: datetime) -> None:
    ctx.clock.now = moment  # type: ignore[attr-defined]


def delivered_all(ctx: Context) -> list[email.message.EmailMessage]:
    folder = ctx.settings.resolve("outbox/email")
    return [
        email.message_from_bytes(file.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for file in sorted(folder.glob("*.eml"))
    ]


def mailed_link(ctx: Context, address: str, path: str) -> str:
    """Deliver the outbox; the link to `path` in a message to `address`, as a local path."""
    Deliverer(ctx).run()
    for message in delivered_all(ctx):
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found = re.search(rf"https://news\.example\.org({path}/\S+)", text)
        if address in str(message["To"]) and found is not None:
            return found.group(1)
    raise AssertionError(f"no message to {address} links to {path}")


@pytest.mark.anyio
async def test_the_preference_link_neither_downloads_nor_deletes(
    clocked_client: httpx.AsyncClient, clocked: Context
) -> None:
    """A forwarded newsletter hands on its preference link: it changes preferences only."""
    subscriber = clocked.store.subscriber(first_active(clocked))
    assert subscriber is not None
    preferences = f"/preferences/{token(clocked, subscriber.id, 'preferences')}"
    centre = await clocked_client.get(preferences)
    assert "/my-data/" not in centre.text and "/delete-me/" not in centre.text
    assert f'action="{preferences}/data"' in centre.text
    # The old links of the preference page only offer to mail a link to the subscriber.
    for old in (f"{preferences}/data", f"{preferences}/delete"):
        page = await clocked_client.get(old)
        assert page.status_code == 200 and "Email me the link" in page.text
        assert page.headers["content-type"].startswith("text/html")
        assert subscriber.email not in page.text
    asked = await clocked_client.post(f"{preferences}/delete")
    assert asked.status_code == 200 and "We sent a link to your address" in asked.text
    assert subscriber.email not in asked.text
    assert clocked.store.subscriber(subscriber.id) == subscriber  # asking deletes nothing
    # Nor does its token open the private pages.
    for private in ("/my-data/", "/delete-me/"):
        opened = await clocked_client.get(
            f"{private}{token(clocked, subscriber.id, 'preferences')}"
        )
        assert opened.status_code == 404


@pytest.mark.anyio
async def test_asking_mails_one_data_link_that_works_for_30_minutes(
    clocked_client: httpx.AsyncClient, clocked: Context
) -> None:
    plan_weekly(clocked)
    subscriber = clocked.store.subscriber(first_active(clocked))
    assert subscriber is not None
    ask = f"/preferences/{token(clocked, subscriber.id, 'preferences')}/data"
    for _ in range(3):  # asked again and again: one message per ten minutes
        answer = await clocked_client.post(ask)
        assert answer.status_code == 200 and "We sent a link to your address" in answer.text
    notices = [row for row in outbox_rows(clocked) if row["payload"] == {"kind": "data-link"}]
    assert [row["target"] for row in notices] == [subscriber.id]
    link = mailed_link(clocked, subscriber.email, "/my-data")
    subjects = {str(message["Subject"]) for message in delivered_all(clocked)}
    assert "Your link to download your data from AMW Weekly" in subjects
    at(clocked, NOW + timedelta(minutes=29))
    download = await clocked_client.get(link)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert "attachment" in download.headers["content-disposition"]
    assert download.headers["cache-control"] == "no-store"
    data = json.loads(download.text)
    assert data["subscriber"]["email"] == subscriber.email
    assert data["subscriber"]["name"] == subscriber.name
    assert data["subscriber"]["preferences"]["companies"] == list(subscriber.preferences.companies)
    at(clocked, NOW + timedelta(minutes=31))
    late = await clocked_client.get(link)
    assert late.status_code == 410 and "This link has expired" in late.text
    assert f'href="{ask}"' in late.text and "Ask for a new link" in late.text
    # Ten minutes on, asking plans a new one.
    await clocked_client.post(ask)
    assert len([row for row in outbox_rows(clocked) if row["target"] == subscriber.id
                and row["payload"] == {"kind": "data-link"}]) == 2  # fmt: skip


@pytest.mark.anyio
async def test_the_data_download_reads_as_dates_digests_and_states_without_paths(
    clocked_client: httpx.AsyncClient, clocked: Context
) -> None:
    plan_weekly(clocked)
    Deliverer(clocked).run()  # the file adapter's provider ids are the paths of its .eml files
    subscriber = clocked.store.subscriber(first_active(clocked))
    assert subscriber is not None
    await clocked_client.post(f"/preferences/{token(clocked, subscriber.id, 'preferences')}/data")
    download = await clocked_client.get(mailed_link(clocked, subscriber.email, "/my-data"))
    outbox_folder = str(clocked.settings.resolve("outbox/email"))
    assert outbox_folder not in download.text and ".eml" not in download.text
    assert "provider_id" not in download.text
    data = json.loads(download.text)
    weekly, notice = data["messages"]
    assert weekly["digest"] == clocked.store.load_digest("weekly:2026-W48").title  # type: ignore[union-attr]
    assert weekly["digest_key"] == "weekly:2026-W48" and weekly["state"] == "sent"
    assert notice == {
        "digest": None,
        "digest_key": None,
        "kind": "data-link",
        "state": "sent",
        "planned_at": NOW.isoformat(),
        "finished_at": NOW.isoformat(),
    }
    assert {message["state"] for message in data["messages"]} <= {s.value for s in DeliveryState}
    for moment in (data["subscriber"]["created_at"], weekly["planned_at"], weekly["finished_at"]):
        assert datetime.fromisoformat(moment).tzinfo is not None


@pytest.mark.anyio
async def test_the_mailed_delete_link_deletes_after_a_click_and_only_for_30_minutes(
    clocked_client: httpx.AsyncClient, clocked: Context
) -> None:
    plan_weekly(clocked)
    first, second = clocked.store.subscribers([SubscriberStatus.ACTIVE])[:2]
    for subscriber in (first, second):
        await clocked_client.post(
            f"/preferences/{token(clocked, subscriber.id, 'preferences')}/delete"
        )
    links = {s.id: mailed_link(clocked, s.email, "/delete-me") for s in (first, second)}
    at(clocked, NOW + timedelta(minutes=29))
    page = await clocked_client.get(links[first.id])
    assert page.status_code == 200 and "Delete my data" in page.text
    assert clocked.store.subscriber(first.id) is not None  # a GET deletes nothing
    done = await clocked_client.post(links[first.id])
    assert done.status_code == 200 and "Your data is deleted" in done.text
    assert clocked.store.subscriber(first.id) is None
    assert suppression(clocked, first.email) == "forgotten"
    everything = dump_database(clocked.store)
    assert first.email.lower() not in everything.lower()
    assert first.id not in everything
    assert email_hash(first.email) in everything
    # Their links now lead nowhere.
    gone = await clocked_client.get(f"/preferences/{token(clocked, first.id, 'preferences')}")
    assert gone.status_code == 404
    # The other's link, clicked at 31 minutes, deletes nothing.
    at(clocked, NOW + timedelta(minutes=31))
    late = await clocked_client.post(links[second.id])
    assert late.status_code == 410 and "This link has expired" in late.text
    assert clocked.store.subscriber(second.id) == second


@pytest.mark.anyio
async def test_a_confirmation_link_works_for_7_days(
    clocked_client: httpx.AsyncClient, clocked: Context
) -> None:
    await subscribe(clocked_client, "early@example.com")
    await subscribe(clocked_client, "late@example.com")
    early = mailed_link(clocked, "early@example.com", "/confirm")
    late = mailed_link(clocked, "late@example.com", "/confirm")
    assert (
        "works for 7 days"
        in delivered(clocked)["early@example.com"].get_body(("plain",)).get_content()
    )  # type: ignore[union-attr]
    at(clocked, NOW + timedelta(days=6))
    assert (await clocked_client.get(early)).status_code == 200
    confirmed = await clocked_client.post(early)
    assert confirmed.status_code == 200 and "You're subscribed" in confirmed.text
    at(clocked, NOW + timedelta(days=8))
    for method in ("GET", "POST"):
        refused = await clocked_client.request(method, late)
        assert refused.status_code == 410 and "This link has expired" in refused.text
        assert 'href="/subscribe"' in refused.text and "Sign up again" in refused.text
    waiting = clocked.store.subscriber_by_email("late@example.com")
    assert waiting is not None and waiting.status is SubscriberStatus.PENDING


@pytest.mark.anyio
async def test_a_confirmation_link_mailed_before_links_were_dated_says_to_sign_up_again(
    clocked_client: httpx.AsyncClient, clocked: Context
) -> None:
    await subscribe(clocked_client, "before@example.com")
    subscriber = clocked.store.subscriber_by_email("before@example.com")
    assert subscriber is not None
    # Undated, as confirmation links were made before they carried their date.
    undated = make_token(clocked.settings.site.secret_key.reveal(), subscriber.id, "confirm")  # type: ignore[arg-type]
    refused = await clocked_client.post(f"/confirm/{undated}")
    assert refused.status_code == 410 and "Sign up again" in refused.text
    assert clocked.store.subscriber(subscriber.id) == subscriber


def dump_database(store: Store) -> str:
    with store.engine.connect() as connection:
        return repr(
            [
                list(connection.execute(select(table)))
                for table in schema.metadata.sorted_tables
                if table.name != "digests"  # digest snapshots hold no subscriber data
            ]
        )


def test_the_web_app_never_loads_a_delivery_module() -> None:
    code = (
        "import sys, digest.web.app\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('digest.delivery'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == ""
    assert (
        "digest.web.public.subscribe"
        in subprocess.run(
            [sys.executable, "-c", "import sys, digest.web.app; print(list(sys.modules))"],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout
    )  # the check above looked at an app that has the public pages


# Delivery ------------------------------------------------------------------------------------


def delivered(ctx: Context) -> dict[str, email.message.EmailMessage]:
    """The messages the file adapter wrote, by recipient address."""
    folder = ctx.settings.resolve("outbox/email")
    found = {}
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[str(message["To"].addresses[0].addr_spec)] = message  # type: ignore[union-attr]
    return found  # type: ignore[return-value]


@pytest.mark.anyio
async def test_the_worker_delivers_the_confirmation_only_to_those_still_pending(
    client: httpx.AsyncClient, context: Context
) -> None:
    await subscribe(client, "waiting@example.com", "Wai Ting")
    await subscribe(client, "quick@example.com")
    quick = context.store.subscriber_by_email("quick@example.com")
    assert quick is not None
    # Confirmed from another device before the worker ran: their confirmation is not sent.
    context.store.confirm_subscriber(quick.id, NOW)
    report = Deliverer(context).run()
    assert report.states == {"sent": 1, "skipped": 1}
    messages = delivered(context)
    assert list(messages) == ["waiting@example.com"]
    message = messages["waiting@example.com"]
    assert message["Subject"] == "Confirm your subscription to AMW Weekly"
    waiting = context.store.subscriber_by_email("waiting@example.com")
    assert waiting is not None
    link = f"https://news.example.org/confirm/{token(context, waiting.id, 'confirm')}"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert link in text and f'href="{link}"' in html
    # The name typed on the form greets them and addresses the message.
    assert "Hi Wai," in text and "Hi Wai," in html
    assert message["To"] == "Wai Ting <waiting@example.com>"
    unsubscribe = (
        f"https://news.example.org/unsubscribe/{token(context, waiting.id, 'unsubscribe')}"
    )
    assert f"<{unsubscribe}>" in message["List-Unsubscribe"]


def test_an_unsubscribe_stops_a_send_already_in_progress(store: Store, tmp_path: Path) -> None:
    """The whole audience claimed in one batch, sent slice by slice; an unsubscribe whose POST
    returns after the first messages went stops theirs, though it was built and claimed."""
    ctx = open_context(store, tmp_path)
    # Enough readers that the batch goes out in several slices, whatever their size.
    store.save_subscribers(
        Subscriber(id=f"z-{number:03}", email=f"reader{number}@example.com", name="")
        for number in range(60)
    )
    plan_weekly(ctx)
    rows = outbox_rows(ctx)
    leaver = ctx.store.subscriber(str(rows[-1]["target"]))
    assert leaver is not None
    app = create_app(ctx)
    seen: list[DeliveryState] = []

    def on_row(state: DeliveryState) -> None:
        seen.append(state)
        if len(seen) != 1:
            return
        # Messages are going out; every row was claimed in one batch, theirs not yet sent.
        states = {row["target"]: row["state"] for row in outbox_rows(ctx)}
        assert set(states.values()) <= {"claimed", "sent"} and "sent" in states.values()
        assert states[leaver.id] == "claimed"
        assert unsubscribe_now(app, token(ctx, leaver.id, "unsubscribe")) == 200

    report = Deliverer(ctx, batch=1000).run(on_row)
    assert report.states == {"sent": len(rows) - 1, "skipped": 1}
    assert leaver.email not in delivered(ctx)
    assert len(delivered(ctx)) == len(rows) - 1
    final = {row["target"]: row for row in outbox_rows(ctx)}
    assert final[leaver.id]["state"] == DeliveryState.SKIPPED.value
    assert final[leaver.id]["last_error"] == "subscriber unsubscribed"


def unsubscribe_now(app: object, value: str) -> int:
    """The one-click POST, through the ASGI app, from inside the deliverer's loop."""
    import anyio

    async def post() -> int:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            response = await c.post(f"/unsubscribe/{value}", content=ONE_CLICK, headers=FORM)
            return response.status_code

    return anyio.run(post)


@pytest.mark.anyio
async def test_preferences_chosen_on_the_web_decide_what_is_sent(
    client: httpx.AsyncClient, context: Context
) -> None:
    from digest.schedule import jobs

    subscriber = context.store.subscriber(first_active(context))
    assert subscriber is not None
    link = f"/preferences/{token(context, subscriber.id, 'preferences')}"
    chosen = {"companies": ["mistral-ai"], "format": "text", "timezone": "UTC", "send_hour": "8"}
    assert (await client.post(link, data=chosen)).status_code == 303  # weekly unticked
    week = jobs.latest_week(context)
    assert week is not None
    jobs.plan_email(context, jobs.compose_weekly(context, week), at_once=True)
    weekly_targets = {row["target"] for row in outbox_rows(context)}
    assert weekly_targets and subscriber.id not in weekly_targets
    for digest in jobs.compose_companies(context, week, "mistral-ai"):
        jobs.plan_email(context, digest, at_once=True)
    Deliverer(context).run()
    message = delivered(context)[subscriber.email]
    assert "Mistral AI" in str(message["Subject"])
    assert message.get_content_type() == "text/plain"  # no HTML part for a text reader


@pytest.mark.anyio
async def test_after_unsubscribing_the_pages_say_nothing_is_sent_and_offer_to_come_back(
    client: httpx.AsyncClient, context: Context
) -> None:
    subscriber = context.store.subscriber(first_active(context))
    assert subscriber is not None
    unsubscribe = f"/unsubscribe/{token(context, subscriber.id, 'unsubscribe')}"
    done = await client.post(unsubscribe, content=ONE_CLICK, headers=FORM)
    again = f"/subscribe?email={quote(subscriber.email)}"
    assert f'/subscribe?email={quote(subscriber.email)}"' in done.text
    preferences = await client.get(f"/preferences/{token(context, subscriber.id, 'preferences')}")
    assert "Nothing is sent to you." in preferences.text
    assert ">Unsubscribe</a>" not in preferences.text
    form = await client.get(again)
    assert f'value="{subscriber.email}"' in form.text
