"""Every page of the desk on a 375 px phone, in headless Chromium: none is wider than the screen
(the email's frame, long URLs and keys, tables). The pages come from the desk's route table, so a
new page fails here until it has an example below. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from web_support import ADMIN, ARTIFACTS, Clock, live_server, sample_desk

from digest.models import SubscriberStatus
from digest.schedule import jobs
from digest.web.app import create_app
from digest.web.editor.routes import routes

PASSWORD = "a phone-typed password"
WEEKLY = "weekly:2026-W48"
COMPANY = "company:mistral-ai:2026-W48"
PHONE = 375

# Each GET page of the desk, by route name: the addresses to open ({reader}: a subscriber's id).
PAGES: dict[str, tuple[str, ...]] = {
    "index": ("/editor/", "/editor/?week=2026-W49"),
    "login": ("/editor/login",),
    "password": ("/editor/password",),
    "accounts": ("/editor/accounts",),
    "digest": (
        f"/editor/digest/{WEEKLY}",
        f"/editor/digest/{WEEKLY}?width=375&find=a&q=a",
        f"/editor/digest/{WEEKLY}?subscriber={{reader}}",
        f"/editor/digest/{COMPANY}",
    ),
    "email_html": (f"/editor/digest/{WEEKLY}/email.html",),
    # The weekly's posts are planned (each with its editing form), the company's composed only.
    "posts": (f"/editor/digest/{WEEKLY}/posts", f"/editor/digest/{COMPANY}/posts"),
    "signup": ("/editor/signup", "/editor/signup?company=mistral-ai&topic=Compute+Economics"),
    "reports": ("/editor/reports",),
    "report": (f"/editor/reports/{WEEKLY}",),
}
DOWNLOADS = {"reports_csv", "report_csv", "card"}  # CSV files and share cards, not pages


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live desk on the sample week, with the weekly's posts planned: (base URL, a reader)."""
    clock = Clock(datetime(2026, 11, 29, 18, 0, tzinfo=UTC))  # the Sunday before Monday's run
    with sample_desk(tmp_path, clock, PASSWORD) as ctx:
        store = ctx.store
        jobs.plan_social(ctx, jobs.compose_weekly(ctx, jobs.IsoWeek(2026, 48)))
        reader = next(
            s for s in store.subscribers([SubscriberStatus.ACTIVE]) if s.preferences.weekly
        )
        with live_server(create_app(ctx)) as base:
            yield base, reader.id


def page_width(page: Any) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


def test_every_desk_page_has_an_example_here() -> None:
    pages = {route.name for route in routes if "GET" in (getattr(route, "methods", None) or ())}
    missing = pages - PAGES.keys() - DOWNLOADS
    assert not missing, f"add an example address of {sorted(missing)} to PAGES"


def test_no_desk_page_is_wider_than_a_phone(browser: Any, desk: tuple[str, str]) -> None:
    base, reader = desk
    ARTIFACTS.mkdir(exist_ok=True)
    phone = browser.new_context(viewport={"width": PHONE, "height": 800})
    page = phone.new_page()
    try:
        page.goto(f"{base}/editor/login")
        assert page_width(page) <= PHONE
        page.fill("#name", ADMIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/editor/")
        too_wide = {}
        for name, addresses in PAGES.items():
            for number, address in enumerate(addresses):
                response = page.goto(base + address.format(reader=reader))
                assert response is not None and response.status == 200, address
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(ARTIFACTS / f"phone-{name}-{number}.png"), full_page=True)
                if page_width(page) > PHONE:
                    too_wide[address] = page_width(page)
        assert not too_wide, f"wider than {PHONE} px: {too_wide}"
    finally:
        phone.close()
