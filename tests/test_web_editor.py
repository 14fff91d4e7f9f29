"""The editor's side of the web app: logins by account, server-side sessions, throttling, CSRF,
the digest pages, view as subscriber, test-sends as outbox rows, approval, curating, and
templates that reload and explain their errors."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import mjml
import pytest
import yaml
from anyio.from_thread import start_blocking_portal
from sqlalchemy import select
from starlette.applications import Starlette

from digest import outbox
from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.models import DeliveryState
from digest.render.templates import template_environment
from digest.schedule.deliverer import deliver_due
from digest.schedule.status import delivery_counts
from digest.settings import Settings, TrackingSettings, parse_settings
from digest.store import Store, schema
from digest.store.accounts import Role, create_account
from digest.store.audit import entries_for
from digest.store.store import ApprovalStatus
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"
PASSWORD = "correct horse battery staple"
EDITOR = "Ada Editor"
TOKEN = "t0ken-for-the-editor-tests-0123456789"
WEEKLY = "weekly:2026-W48"
# The Monday after the sample's last week, before the 07:00 weekly run.
SUNDAY = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def editor_settings(
    tmp_path: Path, editor: dict[str, Any] | None, templates: Path | None = None
) -> Settings:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["web"]["editor"] = editor if editor is not None else {}
    raw["email"]["options"]["directory"] = str(tmp_path / "outbox" / "email")
    for channel in raw["social"]:
        channel["options"]["directory"] = str(tmp_path / "outbox" / "social")
    if templates is not None:
        raw["site"]["templates"] = str(templates)
    return parse_settings(raw, where="settings.yaml", root=tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock(SUNDAY)


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    folder = tmp_path / "my-templates"
    folder.mkdir()
    return folder


@pytest.fixture
def context(tmp_path: Path, clock: Clock, overrides: Path) -> Iterator[Context]:
    settings = editor_settings(tmp_path, {"token": TOKEN}, overrides)
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
    create_account(
        store.engine,
        name=EDITOR,
        email="ada@example.org",
        role=Role.EDITOR,
        password=PASSWORD,
        now=SUNDAY,
    )
    ctx = Context(settings=settings, store=store, env=template_environment(overrides), clock=clock)
    yield ctx
    store.close()


class Client:
    """httpx's AsyncClient on the app, driven from a thread of its own: these tests also run
    after the browser tests, whose Playwright keeps an event loop in the main thread."""

    def __init__(self, app: Starlette, base_url: str = "http://testserver") -> None:
        self._portal = start_blocking_portal()
        self.portal = self._portal.__enter__()
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url=base_url)
        self.cookies = self.client.cookies

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.portal.call(partial(self.client.get, url, **options))

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.portal.call(partial(self.client.post, url, **options))

    def close(self) -> None:
        self.portal.call(self.client.aclose)
        self._portal.__exit__(None, None, None)


@contextmanager
def client_for(app: Starlette, base_url: str = "http://testserver") -> Iterator[Client]:
    client = Client(app, base_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def client(context: Context) -> Iterator[Client]:
    with client_for(create_app(context)) as client:
        yield client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def use_cookie(client: Client, token: str) -> None:
    """Send this session token, as a browser holding an old cookie would."""
    client.cookies.clear()
    client.cookies.set("digest_editor", token, domain="testserver.local", path="/editor")


def log_in(client: Client, password: str = PASSWORD, name: str = EDITOR) -> httpx.Response:
    form = client.get("/editor/login")
    return client.post(
        "/editor/login",
        data={
            "csrf_token": csrf_of(form.text),
            "name": name,
            "password": password,
            "next": "/editor/",
        },
    )


def hash_shown(page: str) -> str:
    """The content hash the page's Approve form carries: what the editor saw."""
    found = re.search(r'name="content_hash" value="([^"]+)"', page)
    assert found, "the page has no Approve form"
    return found.group(1)


def digest_page(client: Client, key: str = WEEKLY, **query: str) -> str:
    response = client.get(f"/editor/digest/{key}", params=query)
    assert response.status_code == 200, response.text[:2000]
    return response.text


# Login, sessions, CSRF ------------------------------------------------------------------------


def test_editor_pages_need_a_login(client: Client) -> None:
    page = client.get(f"/editor/digest/{WEEKLY}")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/editor/login?next=/editor/digest/")
    frame = client.get(f"/editor/digest/{WEEKLY}/email.html")
    assert frame.status_code == 303
    change = client.post(f"/editor/digest/{WEEKLY}/approve", data={"csrf_token": "x"})
    assert change.status_code == 401


def test_a_wrong_password_is_refused_and_the_right_one_lets_in_with_a_tight_cookie(
    client: Client,
) -> None:
    wrong = log_in(client, "not the password")
    assert wrong.status_code == 401
    assert "That name and password do not match an account." in wrong.text
    assert (client.get("/editor/")).status_code == 303
    right = log_in(client)
    assert right.status_code == 303 and right.headers["location"] == "/editor/"
    cookie = right.headers["set-cookie"].lower()
    assert "path=/editor" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    index = client.get("/editor/")
    assert index.status_code == 200 and 'id="who">Ada Editor<' in index.text
    # The cookie holds a random token; the session is a row, only the token's hash in it.
    token = client.cookies["digest_editor"]
    assert EDITOR not in token and len(token) >= 40


def test_the_cookie_is_secure_when_a_trusted_proxy_says_https(context: Context) -> None:
    # The proxy took https and passes plain http on (the browser's cookie jar saw https).
    with client_for(create_app(context), "https://testserver") as client:
        client.client.headers["X-Forwarded-Proto"] = "https"
        response = log_in(client)
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


def test_logging_out_and_a_new_password_end_sessions_on_the_server(
    client: Client, context: Context
) -> None:
    log_in(client)
    stolen = client.cookies["digest_editor"]
    page = client.get("/editor/").text
    client.post("/editor/logout", data={"csrf_token": csrf_of(page)})
    use_cookie(client, stolen)
    assert client.get("/editor/").status_code == 303  # the old cookie no longer works
    client.cookies.clear()
    # Log in twice (two devices); changing the password ends both.
    log_in(client)
    other = client.cookies["digest_editor"]
    client.cookies.clear()
    log_in(client)
    page = client.get("/editor/password").text
    changed = client.post(
        "/editor/password",
        data={
            "csrf_token": csrf_of(page),
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "again": "a brand new passphrase",
        },
    )
    assert changed.status_code == 303 and changed.headers["location"].endswith("changed=1")
    use_cookie(client, other)
    assert client.get("/editor/").status_code == 303
    client.cookies.clear()
    assert log_in(client).status_code == 401
    client.cookies.clear()
    assert log_in(client, "a brand new passphrase").status_code == 303
    actions = [entry.action for entry in entries_for(context.store.engine, f"account:{EDITOR}")]
    assert actions[:2] == ["account.login", "account.password"]


def test_logins_are_throttled_per_account_and_per_client(client: Client, clock: Clock) -> None:
    for _ in range(5):
        assert log_in(client, "guess").status_code == 401
    refused = log_in(client)  # even the right password, while the account is throttled
    assert refused.status_code == 429
    assert "Too many failed logins for this account. Wait " in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 60
    clock.now += timedelta(seconds=61)
    assert log_in(client).status_code == 303  # the minute is over: the right one goes in
    client.cookies.clear()
    # From one address, trying many names: the per-client limit (10 a minute) stops it.
    for number in range(10):
        log_in(client, "guess", name=f"nobody {number}")
    blocked = log_in(client, name="someone else")
    assert blocked.status_code == 429 and "from your address" in blocked.text


def test_the_token_is_only_a_bootstrap_until_an_admin_exists(
    client: Client, context: Context
) -> None:
    assert log_in(client, TOKEN, name="whoever").status_code == 303
    accounts_page = client.get("/editor/accounts")
    assert accounts_page.status_code == 200 and "bootstrap token" in accounts_page.text
    added = client.post(
        "/editor/accounts",
        data={
            "csrf_token": csrf_of(accounts_page.text),
            "action": "add",
            "name": "Grace Admin",
            "email": "grace@example.org",
            "role": "admin",
            "password": "grace's own long password",
        },
    )
    assert added.status_code == 303
    # An admin exists now: the token's session ends and the token no longer logs in.
    assert client.get("/editor/").status_code == 303
    refused = log_in(client, TOKEN, name="whoever")
    assert refused.status_code == 401 and "bootstrap token no longer logs in" in refused.text
    client.cookies.clear()
    assert log_in(client, "grace's own long password", name="Grace Admin").status_code == 303
    (entry,) = entries_for(context.store.engine, "account:Grace Admin")[-1:]
    assert entry.actor == "token:bootstrap" and entry.action == "account.add"


def test_a_session_ends_after_its_lifetime(client: Client, clock: Clock) -> None:
    log_in(client)
    assert (client.get("/editor/")).status_code == 200
    clock.now = SUNDAY + timedelta(minutes=479)
    assert (client.get("/editor/")).status_code == 200
    clock.now = SUNDAY + timedelta(minutes=481)
    assert (client.get("/editor/")).status_code == 303


def test_forms_without_the_csrf_token_change_nothing(client: Client, context: Context) -> None:
    # Login itself is protected: a form posted from elsewhere has no token.
    forged_login = client.post("/editor/login", data={"name": EDITOR, "password": PASSWORD})
    assert forged_login.status_code == 403
    log_in(client)
    for action in ("approve", "hold", "test-send", "edit"):
        response = client.post(
            f"/editor/digest/{WEEKLY}/{action}",
            data={"csrf_token": "guessed", "address": "x@example.org", "action": "note"},
        )
        assert response.status_code == 403, action
    assert context.store.digest_approval(WEEKLY) is None
    assert outbox.state_counts(context.store.engine) == {}


def test_the_editor_is_disabled_with_a_clear_message_without_accounts_or_token(
    tmp_path: Path,
) -> None:
    settings = editor_settings(tmp_path, None)
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        ctx = Context(settings=settings, store=store, env=template_environment())
        with client_for(create_app(ctx)) as client:
            for path in ("/editor/", "/editor/login"):
                response = client.get(path)
                assert response.status_code == 503
                assert "The editor has no accounts yet" in response.text
                assert "digest editor add NAME EMAIL --role admin" in response.text
            assert (client.get("/archive")).status_code == 200


def test_the_web_app_never_imports_delivery() -> None:
    script = (
        "import sys, digest.web.app; "
        "print(sorted(m for m in sys.modules if m.startswith('digest.delivery') "
        "or m == 'digest.schedule.deliverer'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# The digest pages ---------------------------------------------------------------------------


def test_the_calendar_shows_each_digest_at_its_time_with_its_state(
    client: Client, context: Context, clock: Clock
) -> None:
    log_in(client)
    page = client.get("/editor/", params={"week": "2026-W49"}).text  # W48's digests go out
    assert "Week 49: 30 Nov – 6 Dec 2026" in page
    monday = page.split("Mon <span>30</span>")[1].split("Tue <span>")[0]
    assert f'href="/editor/digest/{WEEKLY}"' in monday
    assert 'href="/editor/digest/company:mistral-ai:2026-W48"' in monday
    assert '<span class="time">07:00</span>' in monday  # Paris time, the weekly's run
    assert '<span class="badge draft">draft</span>' in monday
    # The company digests of the 08:00 run are one folded line, each a link inside it.
    assert re.search(
        r'<details class="event-group company">\s*<summary>.*08:00.*company digests', monday
    )
    from digest.schedule import jobs

    # Posts at their slots, each named by its channel: planned on Sunday at 19:00 (Paris),
    # Bluesky's first goes at 19:00 and Mastodon's at 20:00 that evening, the rest from Monday.
    jobs.plan_social(context, jobs.compose_weekly(context, jobs.IsoWeek(2026, 48)))
    sunday = client.get("/editor/").text.split("Sun <span>29</span>")[1]
    one = (
        rf'class="event post" href="/editor/digest/{WEEKLY}/posts"[^>]*>'  # to the posts desk
        r'\s*<span class="time">{}</span>\s*<span class="badge planned">'
    )
    assert re.search(one.format("19:00") + r"planned</span>\s*<strong>bluesky</strong>", sunday)
    assert re.search(one.format("20:00") + r"planned</span>\s*<strong>mastodon</strong>", sunday)
    assert "<strong>x</strong>" not in sunday  # X's first slot is Monday 08:00

    jobs.plan_email(context, jobs.compose_weekly(context, jobs.IsoWeek(2026, 48)))
    monday = client.get("/editor/", params={"week": "2026-W49"}).text.split("Tue <span>")[0]
    weekly = monday.split(f'data-key="{WEEKLY}"')[1].split("</a>")[0]
    assert '<span class="badge planned">planned</span>' in weekly
    # Once Monday's run and its grace (6 hours) have passed, an unplanned digest is missed.
    clock.now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    client.cookies.clear()
    log_in(client)  # the Sunday login has ended by now
    late = client.get("/editor/", params={"week": "2026-W49"}).text
    company = late.split('data-key="company:mistral-ai:2026-W48"')[1].split("</a>")[0]
    assert '<span class="badge missed">missed</span>' in company


def test_a_digest_page_shows_the_email_its_text_headers_size_and_posts(
    client: Client,
) -> None:
    log_in(client)
    page = digest_page(client)
    # The email in a sandboxed frame, at 600 px, and at 375 px on asking.
    assert re.search(r'<iframe[^>]* sandbox=""[^>]*src="[^"]*/email.html"[^>]* width="600"', page)
    phone = digest_page(client, width="375")
    assert re.search(r'<iframe[^>]* sandbox=""[^>]* width="375"', phone)
    assert "Mistral AI is investing 1.2 billion euros" in page  # in the text part
    assert re.search(r"<th>Subject</th><td>The week in AI", page)
    assert "<th>List-Unsubscribe</th>" in page and "<th>Message-ID</th>" in page
    assert re.search(r"HTML part: \d+\.\d KB \(\d+% of Gmail's 102 KB clipping\)", page)
    # Not planned yet: when its emails would fall due, were it sent at its time (Monday 07:00).
    assert "were it sent at its scheduled time" in page
    hours = re.findall(r"<tr><td>(\w{3} \d\d \w{3} \d\d:00 CET)</td><td>(\d+)</td></tr>", page)
    assert hours[0][0] == "Mon 30 Nov 07:00 CET" and len(hours) > 5
    # Posts per channel, each with its count against its limit and a copy button.
    for channel in ("x", "mastodon", "bluesky", "linkedin", "threads"):
        assert f'data-channel="{channel}"' in page
    assert re.search(r'<span class="count ">\d+ / 280</span>', page)
    assert re.search(r'<span class="count ">\d+ / 300</span>', page)
    assert 'class="secondary small copy" data-copy="post-0"' in page
    assert 'src="/static/editor.js"' in page
    assert "navigator.clipboard.writeText" in client.get("/static/editor.js").text
    frame = client.get(f"/editor/digest/{WEEKLY}/email.html")
    assert frame.status_code == 200
    assert frame.headers["content-security-policy"].startswith("sandbox;")
    assert "Mistral AI is investing 1.2 billion euros" in frame.text


@pytest.mark.parametrize("key", [WEEKLY, "company:nvidia:2026-W48"])
def test_a_digest_page_and_its_frame_compile_the_email_once_each(
    client: Client, monkeypatch: pytest.MonkeyPatch, context: Context, key: str
) -> None:
    log_in(client)
    calls: list[int] = []
    real = mjml.mjml2html

    def counted(source: str, **options: Any) -> Any:
        calls.append(len(source))
        return real(source, **options)

    monkeypatch.setattr(mjml, "mjml2html", counted)
    digest_page(client, key=key)
    assert len(calls) == 1  # its size, its text part, its headers: one compile
    assert client.get(f"/editor/digest/{key}/email.html").status_code == 200
    assert len(calls) == 2
    # Someone who chose no topics and follows no company gets the digest itself (a company's
    # follower gets that company's other stories too: a variant of their own).
    everything = next(
        s
        for s in context.store.subscribers()
        if not s.preferences.companies and not s.preferences.topics
    )
    digest_page(client, key=key, subscriber=everything.id)
    assert len(calls) == 3  # viewed as one subscriber: their variant is the digest itself


def test_a_size_warning_shows_near_gmails_clipping(client: Client, overrides: Path) -> None:
    """An overriding template that bloats the email makes the page warn."""
    (overrides / "email").mkdir()
    base = (REPO / "templates" / "email" / "base.mjml.j2").read_text()
    padding = '<mj-raw><div style="display:none">' + "x " * 55_000 + "</div></mj-raw>"
    assert "<mj-body" in base
    bloated = re.sub(r"(<mj-body[^>]*>)", lambda m: m.group(1) + padding, base, count=1)
    (overrides / "email" / "base.mjml.j2").write_text(bloated)
    log_in(client)
    page = digest_page(client)
    assert "near or over Gmail's clipping" in page
    assert "Gmail clips messages over 102 KB" in page


def test_an_unknown_digest_is_a_404(client: Client) -> None:
    log_in(client)
    assert (client.get("/editor/digest/weekly:1999-W01")).status_code == 404
    assert (client.get("/editor/digest/nonsense")).status_code == 404


# View as subscriber --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tracking",
    [TrackingSettings(), TrackingSettings(weekly=True, per_subscriber=True, opens=True)],
    ids=["untracked", "tracked-per-subscriber"],
)
def test_view_as_subscriber_shows_exactly_the_message_the_worker_sends(
    client: Client, context: Context, tmp_path: Path, tracking: TrackingSettings
) -> None:
    from digest.schedule import jobs

    context.settings = dataclasses.replace(context.settings, tracking=tracking)

    week = jobs.latest_week(context)
    assert week is not None
    audience = jobs.email_audience(context, jobs.compose_weekly(context, week))
    subscriber = next(s for s in audience if s.preferences.format == "html")
    log_in(client)
    page = digest_page(client, subscriber=subscriber.id)
    frame = client.get(f"/editor/digest/{WEEKLY}/email.html", params={"subscriber": subscriber.id})
    # Now send it for real (at once, whatever their hour) and compare with the .eml written.
    jobs.plan_email(context, jobs.compose_weekly(context, week), at_once=True)
    deliver_due(context)
    sent = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in (tmp_path / "outbox" / "email").glob("*.eml")
    ]
    theirs = next(m for m in sent if subscriber.email in str(m["To"]))
    for name in ("From", "To", "Subject", "Message-ID", "List-Id", "List-Unsubscribe"):
        value = str(theirs[name]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f"<th>{name}</th><td>{value}</td>" in page.replace("&#34;", '"'), name
    html_part = theirs.get_body(("html",))
    text_part = theirs.get_body(("plain",))
    assert html_part is not None and text_part is not None
    assert frame.text == html_part.get_content()
    assert f"Hi {subscriber.given_name}," in frame.text
    assert ("/r/" in frame.text) is tracking.weekly
    first_lines = text_part.get_content().splitlines()[:5]
    for line in first_lines:
        if line.strip():
            assert line.replace("'", "&#39;").replace('"', "&#34;") in page


def test_view_as_a_subscriber_who_would_not_receive_it_says_why(
    client: Client, context: Context
) -> None:
    inactive = next(s for s in context.store.subscribers() if s.status.value != "active")
    log_in(client)
    page = digest_page(client, subscriber=inactive.id)
    assert "This subscriber would not receive it: they are " in page


# Test-send ----------------------------------------------------------------------------------


def test_a_test_send_is_an_outbox_row_marked_test_that_the_worker_delivers(
    client: Client, context: Context, tmp_path: Path
) -> None:
    log_in(client)
    page = digest_page(client)
    response = client.post(
        f"/editor/digest/{WEEKLY}/test-send",
        data={"csrf_token": csrf_of(page), "address": "proof@example.org"},
    )
    assert response.status_code == 303
    assert "is in the outbox, marked as a test" in (digest_page(client))
    with context.store.engine.connect() as connection:
        rows = connection.execute(select(schema.deliveries)).mappings().all()
    assert len(rows) == 1 and rows[0]["is_test"] is True
    assert rows[0]["payload"]["address"] == "proof@example.org"
    (sent,) = entries_for(context.store.engine, WEEKLY)
    assert sent.action == "digest.test-send" and sent.actor == f"editor:{EDITOR}"
    # The digest was not stored by previewing or test-sending it: it is not frozen yet.
    assert context.store.load_digest(WEEKLY) is None
    report = deliver_due(context)
    assert report.states == {DeliveryState.SENT.value: 1}
    (eml,) = (tmp_path / "outbox" / "email").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert str(message["To"]) == "proof@example.org"
    assert str(message["Subject"]).startswith("[Test] The week in AI")
    # A test row never counts as the digest being planned.
    assert context.store.digest_approval(WEEKLY) is None


def test_a_test_send_to_something_not_an_address_plans_nothing(
    client: Client, context: Context
) -> None:
    log_in(client)
    page = digest_page(client)
    for address in ("not-an-address", "a@example.org\r\nBcc: b@example.org"):
        client.post(
            f"/editor/digest/{WEEKLY}/test-send",
            data={"csrf_token": csrf_of(page), "address": address},
        )
    assert outbox.state_counts(context.store.engine) == {}


# Approval -----------------------------------------------------------------------------------


def test_approving_records_who_and_when_and_holding_clears_it(
    client: Client, context: Context, clock: Clock
) -> None:
    log_in(client)
    page = digest_page(client)
    approved = client.post(
        f"/editor/digest/{WEEKLY}/approve",
        data={"csrf_token": csrf_of(page), "content_hash": hash_shown(page)},
    )
    assert approved.status_code == 303
    approval = context.store.digest_approval(WEEKLY)
    assert approval is not None
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.approved_by == "Ada Editor" and approval.approved_at == SUNDAY
    assert delivery_counts(context, [WEEKLY])[WEEKLY].total == 0  # the scheduler sends it
    page = digest_page(client)
    assert "Approved: the scheduler sends it at its time." in page
    assert 'id="approved-by">Ada Editor<' in page
    client.post(f"/editor/digest/{WEEKLY}/hold", data={"csrf_token": csrf_of(page)})
    held = context.store.digest_approval(WEEKLY)
    assert held is not None and held.status is ApprovalStatus.HELD and held.approved_by is None
    assert "Not sent while held." in digest_page(client)


def test_approving_after_the_scheduled_time_plans_it_at_once(
    client: Client, context: Context, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # after Monday 07:00 in Paris
    log_in(client)
    page = digest_page(client)
    client.post(
        f"/editor/digest/{WEEKLY}/approve",
        data={"csrf_token": csrf_of(page), "content_hash": hash_shown(page)},
    )
    assert delivery_counts(context, [WEEKLY])[WEEKLY].total > 0
    page = digest_page(client)
    assert "so it is planned now for" in page
    assert '<span class="badge planned" id="status">planned</span>' in page  # not yet sent
    assert 'id="approve"' not in page  # planned: no more decisions


def test_a_missed_run_shows_as_missed_and_an_editor_can_send_it_now(
    client: Client, context: Context, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # the Monday run's grace is over
    log_in(client)
    page = digest_page(client)
    assert '<span class="badge missed" id="status">missed</span>' in page
    assert "nothing was planned at Mon 2026-11-30 07:00 CET" in page
    client.post(f"/editor/digest/{WEEKLY}/send-now", data={"csrf_token": csrf_of(page)})
    page = digest_page(client)
    assert "Sent now. Its scheduled time had passed, so it is planned now for" in page
    assert '<span class="badge planned" id="status">planned</span>' in page
    again = client.post(f"/editor/digest/{WEEKLY}/send-now", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409  # planned already: not twice


# Templates ----------------------------------------------------------------------------------


def test_an_edited_template_shows_on_reload_without_a_restart(
    client: Client, overrides: Path
) -> None:
    log_in(client)
    folder = overrides / "email"
    folder.mkdir()
    headline = folder / "_headline.mjml.j2"
    original = (REPO / "templates" / "email" / "_headline.mjml.j2").read_text()
    headline.write_text(original)
    before = (client.get(f"/editor/digest/{WEEKLY}/email.html")).text
    assert "EDITED-HEADLINE" not in before
    headline.write_text(original.replace("<h3 ", "<p>EDITED-HEADLINE</p><h3 ", 1))
    stamp = headline.stat().st_mtime + 5  # a later mtime, whatever the file system's resolution
    os.utime(headline, (stamp, stamp))
    after = (client.get(f"/editor/digest/{WEEKLY}/email.html")).text
    assert "EDITED-HEADLINE" in after


def test_a_template_error_shows_its_file_line_and_message(client: Client, overrides: Path) -> None:
    log_in(client)
    (overrides / "email").mkdir()
    broken = overrides / "email" / "_headline.mjml.j2"
    broken.write_text("line one\nline two\n{% if entry %}never closed\n")
    page = client.get(f"/editor/digest/{WEEKLY}")
    assert page.status_code == 500
    assert f"<code class=template-file>{broken}</code>" in page.text
    assert "<code class=template-line>line 3</code>" in page.text
    assert "Unexpected end of template" in page.text
    # An error while rendering (not parsing) is found too, with its own line.
    broken.write_text("fine\n{{ entry.no_such_field.deeper }}\n")
    page = client.get(f"/editor/digest/{WEEKLY}")
    assert "<code class=template-line>line 2</code>" in page.text
    assert "no_such_field" in page.text
    # An editor page's own template.
    (overrides / "web" / "editor").mkdir(parents=True)
    (overrides / "web" / "editor" / "calendar.html.j2").write_text("{% for x in %}\n")
    index = client.get("/editor/")
    assert "calendar.html.j2</code>" in index.text and "line 1" in index.text


def test_a_held_or_unapproved_digest_stays_out_of_the_public_archive(
    client: Client, context: Context
) -> None:
    log_in(client)
    page = digest_page(client)
    client.post(f"/editor/digest/{WEEKLY}/hold", data={"csrf_token": csrf_of(page)})
    assert context.store.load_digest(WEEKLY) is not None  # stored by the decision
    assert WEEKLY not in (client.get("/archive")).text
    assert (client.get(f"/archive/{WEEKLY}")).status_code == 404


# Curating ------------------------------------------------------------------------------------


def edit(client: Client, action: str, **fields: str) -> httpx.Response:
    page = digest_page(client)
    return client.post(
        f"/editor/digest/{WEEKLY}/edit",
        data={"csrf_token": csrf_of(page), "action": action, **fields},
    )


def test_curating_changes_the_preview_and_every_change_is_in_the_history(
    client: Client, context: Context
) -> None:
    from digest.schedule import jobs

    log_in(client)
    digest = jobs.compose_weekly(context, jobs.IsoWeek(2026, 48))
    last, first = digest.entries[-1].item, digest.entries[0].item
    assert edit(client, "pin", item=last.id).status_code == 303
    assert edit(client, "drop", item=first.id).status_code == 303
    note = "**Big week.** Read [this](https://example.com/a) <script>alert(1)</script>"
    edit(client, "text", note=note, subject="Pinned: our pick", preheader="")
    page = digest_page(client)
    assert "Saved the note, subject." in page
    assert "<th>Subject</th><td>Pinned: our pick</td>" in page
    contents = page.split('id="contents"')[1].split('id="words"')[0]
    first_entry = contents.split('class="entry-title">')[1].split("</div>")[0]
    assert "Pinned" in first_entry and last.title.replace("'", "&#39;") in first_entry
    assert 'value="restore"' in page  # the dropped item can be put back
    frame = client.get(f"/editor/digest/{WEEKLY}/email.html").text
    assert "<strong>Big week.</strong>" in frame
    assert "<script>" not in frame and "&lt;script&gt;alert(1)&lt;/script&gt;" in frame
    assert first.title not in frame
    history = page.split('id="history"')[1]
    for action in ("pin", "drop", "text"):
        assert f'<td class="action">{action}</td>' in history
    assert [e.action for e in entries_for(context.store.engine, WEEKLY)] == [
        "digest.text",
        "digest.drop",
        "digest.pin",
    ]
    # The note's text part is plain text, shown as typed.
    assert "Big week. Read this (https://example.com/a) <script>" in (
        page.split('id="text-part">')[1].replace("&lt;", "<").replace("&gt;", ">")
    )


def test_an_edit_after_approval_returns_it_to_draft_and_says_so(
    client: Client, context: Context
) -> None:
    log_in(client)
    page = digest_page(client)
    client.post(
        f"/editor/digest/{WEEKLY}/approve",
        data={
            "csrf_token": csrf_of(page),
            "content_hash": re.findall(r'name="content_hash" value="([^"]+)"', page)[0],
        },
    )
    approval = context.store.digest_approval(WEEKLY)
    assert approval is not None and approval.status is ApprovalStatus.APPROVED
    edit(client, "text", note="One more thing.", subject="", preheader="")
    page = digest_page(client)
    assert "the edit returned it to draft" in page
    assert '<span class="badge draft" id="status">draft</span>' in page
    # An approval of what the page showed before another change is refused.
    stale_hash = hash_shown(page)
    edit(client, "text", note="Changed again.", subject="", preheader="")
    page = digest_page(client)
    client.post(
        f"/editor/digest/{WEEKLY}/approve",
        data={"csrf_token": csrf_of(page), "content_hash": stale_hash},
    )
    assert "Not approved: the digest changed since you opened it" in digest_page(client)
    approval = context.store.digest_approval(WEEKLY)
    assert approval is not None and approval.status is ApprovalStatus.DRAFT


def test_the_subscriber_picker_searches_instead_of_listing_everyone(
    client: Client, context: Context
) -> None:
    log_in(client)
    everyone = context.store.subscribers()
    page = digest_page(client)
    assert '<select id="subscriber"' not in page and everyone[0].email not in page
    someone = everyone[0]
    found = digest_page(client, q=someone.email[:4].upper())
    people = found.split('id="people"')[1].split("</ul>")[0]
    assert someone.email in people
    assert all(
        s.email.lower().startswith(someone.email[:4].lower()) for s in everyone if s.email in people
    )
    by_id = digest_page(client, q=someone.id)
    assert f"subscriber={someone.id}" in by_id
