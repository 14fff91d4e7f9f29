"""The embedded sign-up forms in headless Chromium, as they will be used: an editor copies both
snippets from the desk, a blog on another site pastes them, and a reader signs up there, with
the script (answered inside the form) and without (answered in a new tab). Screenshots in
test-artifacts/."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from web_support import ARTIFACTS, free_port, live_server

from digest.context import Context
from digest.ingest import read_sources
from digest.models import Preferences, SubscriberStatus
from digest.render.templates import template_environment
from digest.settings import parse_settings
from digest.store import Store
from digest.store.accounts import Role, create_account
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def blog(snippets: dict[str, str]) -> Starlette:
    """Another site: an article with a pasted snippet, at /plain and /script."""

    def article(request: Request) -> HTMLResponse:
        form = snippets[request.path_params["variant"]]
        return HTMLResponse(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>A blog</title>"
            f"</head><body><h1>An article about Mistral AI</h1><p>Text.</p>{form}</body></html>"
        )

    return Starlette(routes=[Route("/{variant}", article)])


def test_a_reader_signs_up_on_another_site_with_either_snippet(
    browser: Any, tmp_path: Path
) -> None:
    port, blog_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    # Another site indeed: another host name, so the browser calls its requests cross-site.
    elsewhere = f"http://localhost:{blog_port}"
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    settings = dataclasses.replace(settings, site=dataclasses.replace(settings.site, base_url=base))
    ARTIFACTS.mkdir(exist_ok=True)
    snippets: dict[str, str] = {}
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.write_batch(read_sources([str(REPO / "digest" / "data" / "sample.yaml")]))
        create_account(store.engine, name="Mia Marketing", email="mia@example.org",
                       role=Role.MARKETING, password=PASSWORD, now=NOW)  # fmt: skip
        ctx = Context(settings=settings, store=store, env=template_environment())
        with live_server(create_app(ctx), port=port), live_server(blog(snippets), blog_port):
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{base}/editor/signup?company=mistral-ai")
            page.fill("#name", "Mia Marketing")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/editor/signup?company=mistral-ai")
            page.screenshot(path=str(ARTIFACTS / "signup-1-desk.png"), full_page=True)
            snippets["plain"] = page.text_content("#embed-plain") or ""
            snippets["script"] = page.text_content("#embed-script") or ""

            page.goto(f"{elsewhere}/script")
            page.fill("#digest-signup-email", "script.reader@example.com")
            page.click("button:text-is('Subscribe to AMW Weekly')")
            page.wait_for_selector(".digest-signup-answer:has-text('Check your inbox')")
            assert page.url == f"{elsewhere}/script"  # the reader stayed on the article
            assert not page.is_visible("#digest-signup-website")  # the honeypot
            page.screenshot(path=str(ARTIFACTS / "signup-2-script-answer.png"), full_page=True)
            scripted = store.subscriber_by_email("script.reader@example.com")
            assert scripted is not None and scripted.status is SubscriberStatus.PENDING
            assert scripted.preferences == Preferences(companies=("mistral-ai",))

            page.goto(f"{elsewhere}/plain")
            page.fill("#digest-signup-email", "plain.reader@example.com")
            page.uncheck("input[name=companies]")  # changed their mind: the weekly only
            with page.context.expect_page() as opened:
                page.click("button:text-is('Subscribe to AMW Weekly')")
            answer = opened.value
            answer.wait_for_selector("text=Check your inbox")
            assert answer.url == f"{base}/subscribe/embed"
            answer.screenshot(path=str(ARTIFACTS / "signup-3-plain-answer.png"), full_page=True)
            plain = store.subscriber_by_email("plain.reader@example.com")
            assert plain is not None and plain.status is SubscriberStatus.PENDING
            assert plain.preferences == Preferences()
