"""The desk end to end in headless Chromium: log in, curate the weekly digest (pin, leave out,
reorder, a note in Markdown with a <script> in it), see the preview change, view it as a
subscriber, approve it, and find exactly that in the delivered .eml (every page at 375 px:
test_web_editor_phone.py). Screenshots of each step are kept in test-artifacts/."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from web_support import ADMIN, ARTIFACTS, Clock, live_server, sample_desk

from digest.models import SubscriberStatus
from digest.schedule import jobs
from digest.schedule.deliverer import deliver_due
from digest.store.store import ApprovalStatus
from digest.web.app import create_app

PASSWORD = "a browser-typed password"
WEEKLY = "weekly:2026-W48"
NOTE = "**A big week** for [compute](https://example.com/compute).\n\n<script>alert(1)</script>"


def column_boxes(page: Any) -> tuple[dict[str, float], dict[str, float]]:
    """The first image column and its headline column inside the email's frame."""
    frame = page.frame_locator("#email-frame")
    image = frame.locator("div.mj-column-per-40").first
    headline = frame.locator("div.mj-column-per-60").first
    image.wait_for()
    image_box, headline_box = image.bounding_box(), headline.bounding_box()
    assert image_box is not None and headline_box is not None
    return image_box, headline_box


def entry_button(page: Any, item_id: str, action: str) -> Any:
    return page.locator(f'li.entry[data-item="{item_id}"] button[value="{action}"]')


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_editor_curates_approves_and_the_delivered_email_is_what_they_saw(
    browser: Any, tmp_path: Path
) -> None:
    def approval_required(raw: dict[str, Any]) -> None:
        raw["digests"]["weekly"]["require_approval"] = True

    ARTIFACTS.mkdir(exist_ok=True)
    clock = Clock(datetime(2026, 11, 29, 18, 0, tzinfo=UTC))  # Sunday, before Monday's run
    with sample_desk(tmp_path, clock, PASSWORD, approval_required) as ctx:
        store = ctx.store
        composed = jobs.compose_weekly(ctx, jobs.IsoWeek(2026, 48))
        first, second, last = (composed.entries[i].item for i in (0, 1, -1))
        reader = next(
            s
            for s in store.subscribers([SubscriberStatus.ACTIVE])
            if s.preferences.weekly and s.preferences.format == "html" and not s.preferences.topics
        )
        with live_server(create_app(ctx)) as base:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            try:
                page.goto(f"{base}/editor/?week=2026-W49")
                assert "/editor/login" in page.url
                page.fill("#name", ADMIN)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/editor/?week=2026-W49")
                assert no_sideways_scroll(page)
                page.screenshot(path=str(ARTIFACTS / "desk-calendar-1280.png"), full_page=True)

                # From the calendar to the weekly digest; the email's columns sit side by side.
                page.click(f'#calendar a[data-key="{WEEKLY}"]')
                page.wait_for_url(f"**/editor/digest/{WEEKLY}")
                assert page.locator("#email-frame").get_attribute("sandbox") == ""
                image, headline = column_boxes(page)
                assert headline["x"] >= image["x"] + image["width"] - 1

                # Curate: pin the last item, leave out the first, move the (new) second down.
                entry_button(page, last.id, "pin").click()
                page.wait_for_selector("#flash")
                assert "Pinned to the top" in page.locator("#flash").inner_text()
                entry_button(page, first.id, "drop").click()
                page.wait_for_selector(f'#dropped >> text="{first.title}"')
                entry_button(page, second.id, "down").click()
                page.wait_for_selector("#flash")
                page.fill("#note", NOTE)
                page.fill("#subject", "Our pick: the week in AI")
                page.click("#save-words")
                page.wait_for_selector("#flash")
                order = page.locator("li.entry").evaluate_all("els => els.map(e => e.dataset.item)")
                assert order[0] == last.id and first.id not in order
                page.screenshot(path=str(ARTIFACTS / "desk-digest-curated-1280.png"))

                # The preview changed: the note rendered, the <script> only as text, the pin first.
                frame = page.frame_locator("#email-frame")
                note = frame.locator(".editor-note")
                note.wait_for()
                assert note.locator("strong").inner_text() == "A big week"
                assert "<script>alert(1)</script>" in note.inner_text()
                assert frame.locator("script").count() == 0
                assert frame.locator("h3").first.inner_text().strip() == last.title
                frame_html = page.locator("#email-frame").get_attribute("src")
                assert frame_html is not None

                # View as one reader: found by the start of their address.
                page.fill("#q", reader.email[:6])
                page.click("#find-subscriber")
                page.click(f'#people a[href*="subscriber={reader.id}"]')
                page.wait_for_url(f"**subscriber={reader.id}**")
                assert reader.email in page.locator("#headers").inner_text()
                assert "Our pick: the week in AI" in page.locator("#headers").inner_text()
                seen = page.request.get(
                    f"{base}/editor/digest/{WEEKLY}/email.html?subscriber={reader.id}"
                ).text()
                page.screenshot(path=str(ARTIFACTS / "desk-view-as-1280.png"))

                # Approve what was seen.
                page.click("#approve")
                page.wait_for_selector("#flash")
                assert page.locator("#status").inner_text() == "approved"
                assert page.locator("#approved-by").inner_text() == ADMIN
                history = page.locator("#history").inner_text()
                for action in ("pin", "drop", "reorder", "text", "approve"):
                    assert action in history
                page.locator("#history").screenshot(path=str(ARTIFACTS / "desk-history.png"))
            finally:
                context.close()
        approval = store.digest_approval(WEEKLY)
        assert approval is not None and approval.status is ApprovalStatus.APPROVED

        # Monday's run sends it: the delivered .eml is exactly what the editor saw.
        clock.now = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 07:00 in Paris
        jobs.weekly_job(ctx)
        clock.now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # every subscriber's hour has come
        deliver_due(ctx)
        sent = [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in (tmp_path / "outbox" / "email").glob("*.eml")
        ]
        theirs = next(m for m in sent if reader.email in str(m["To"]))
        assert str(theirs["Subject"]) == "Our pick: the week in AI"
        html_part, text_part = theirs.get_body(("html",)), theirs.get_body(("plain",))
        assert html_part is not None and text_part is not None
        assert html_part.get_content() == seen
        text = text_part.get_content()
        assert "A big week for compute (https://example.com/compute)." in text
        assert "<script>alert(1)</script>" in text
        assert first.title not in text
        numbered = [line for line in text.splitlines() if line.startswith("1. ")]
        assert last.title.startswith(numbered[0][3:])
