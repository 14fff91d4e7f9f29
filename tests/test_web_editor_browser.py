"""The editor end to end in headless Chromium: log in, open the weekly digest, see its two-column
entries side by side at 600 px and stacked at 375 px, view it as a subscriber, approve it.
Screenshots of each step are kept in test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from web_support import ARTIFACTS, live_server

from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.models import SubscriberStatus
from digest.passwords import hash_password
from digest.render.templates import template_environment
from digest.settings import parse_settings
from digest.store import Store
from digest.store.store import ApprovalStatus
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"
PASSWORD = "a browser-typed password"


def column_boxes(page: Any) -> tuple[dict[str, float], dict[str, float]]:
    """The first image column and its headline column inside the email's frame."""
    frame = page.frame_locator("#email-frame")
    image = frame.locator("div.mj-column-per-40").first
    headline = frame.locator("div.mj-column-per-60").first
    image.wait_for()
    image.scroll_into_view_if_needed()  # for the screenshots
    image_box, headline_box = image.bounding_box(), headline.bounding_box()
    assert image_box is not None and headline_box is not None
    return image_box, headline_box


def test_an_editor_previews_views_as_a_subscriber_and_approves_in_chromium(
    browser: Any, tmp_path: Path
) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["web"]["editor"] = {"password_hash": hash_password(PASSWORD)}
    raw["digests"]["weekly"]["require_approval"] = True
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.write_batch(read_sources([str(DATA / "sample.yaml")]))
        store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
        subscriber = next(
            s
            for s in store.subscribers([SubscriberStatus.ACTIVE])
            if s.preferences.weekly and s.preferences.format == "html"
        )
        # Before the week's scheduled send (Monday 30 November, 07:00 in Paris): an approval
        # then waits for the schedule, so the digest shows as approved, not yet sent.
        before_send = datetime(2026, 11, 29, 12, tzinfo=UTC)
        ctx = Context(
            settings=settings, store=store, env=template_environment(), clock=lambda: before_send
        )
        with live_server(create_app(ctx)) as base:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            try:
                # Log in: the editor's pages send a stranger to the login form first.
                page.goto(f"{base}/editor/")
                assert "/editor/login" in page.url
                page.fill("#name", "Ada Editor")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/editor/")
                page.screenshot(path=str(ARTIFACTS / "editor-index.png"), full_page=True)

                # Open the weekly digest: at 600 px an entry's image and headline sit side by side.
                page.click("a[href$='/editor/digest/weekly:2026-W48']")
                page.wait_for_url("**/editor/digest/weekly:2026-W48")
                assert page.locator("#email-frame").get_attribute("sandbox") == ""
                image, headline = column_boxes(page)
                assert headline["x"] >= image["x"] + image["width"] - 1
                assert abs(headline["y"] - image["y"]) < image["height"]
                assert page.locator("#posts .post-card").count() > 0
                page.screenshot(path=str(ARTIFACTS / "editor-digest-600.png"))

                # Phone width: the columns stack, the image above the headline, full width.
                page.click("#width-phone")
                page.wait_for_url("**width=375")
                assert page.locator("#email-frame").evaluate("frame => frame.clientWidth") == 375
                image, headline = column_boxes(page)
                assert headline["y"] >= image["y"] + image["height"] - 1
                assert abs(headline["x"] - image["x"]) < 2
                assert image["width"] > 0.8 * 375 - 40
                page.screenshot(path=str(ARTIFACTS / "editor-digest-375.png"))

                # View as a subscriber: their own address and greeting.
                page.select_option("#subscriber", subscriber.id)
                page.click("#view-as-button")
                page.wait_for_url(f"**subscriber={subscriber.id}**")
                assert subscriber.email in page.locator("#headers").inner_text()
                frame = page.frame_locator("#email-frame")
                assert subscriber.name.split()[0] in frame.locator("body").inner_text()
                page.screenshot(path=str(ARTIFACTS / "editor-view-as.png"))

                # Approve it: who and when are recorded and shown.
                assert page.locator("#status").inner_text() == "draft"
                page.click("#approve")
                page.wait_for_load_state()
                assert page.locator("#status").inner_text() == "approved"
                assert page.locator("#approved-by").inner_text() == "Ada Editor"
                page.screenshot(path=str(ARTIFACTS / "editor-approved.png"))
                first_channel = page.locator("#posts details").first
                first_channel.screenshot(path=str(ARTIFACTS / "editor-posts.png"))
            finally:
                context.close()
        approval = store.digest_approval("weekly:2026-W48")
        assert approval is not None and approval.status is ApprovalStatus.APPROVED
        assert approval.approved_by == "Ada Editor"
