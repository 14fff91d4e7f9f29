"""The desk's reports: a sent weekly digest whose links were clicked (readers, scanners, an Apple
Mail prefetch), its report page (figures, a bar chart of clicks per link in inline SVG, every
table as CSV, the very figures of `digest report`), the last weeks' line charts, and both pages
in Chromium at 1280 and 375 px (screenshots in test-artifacts/)."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_web_editor import Client, client_for, log_in
from web_support import ADMIN, ARTIFACTS, Clock, live_server, sample_desk

from digest.context import Context
from digest.engagement import HitRecorder, LinkSigner
from digest.engagement.report import read_digest_report, read_overview, tables_csv
from digest.schedule import jobs
from digest.schedule.deliverer import deliver_due
from digest.web.app import create_app

PASSWORD = "a reporting password"
WEEKLY = "weekly:2026-W48"
SENT = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday's 07:00 run in Paris
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
TRACKED = re.compile(r'href="(https?://[^"/]+/r/([A-Za-z0-9_.-]+))"')
# Clicks by readers on the first three links: 5, 3 and 1 readers; the first also by 2 scanners.
READERS = (5, 3, 1)


def track(raw: dict[str, Any]) -> None:
    raw["tracking"].update(weekly=True, company=True, opens=True)


@pytest.fixture
def clicked(tmp_path: Path) -> Iterator[Context]:
    """The sample weekly sent with tracked links, then clicked two hours later."""
    clock = Clock(SENT)
    with sample_desk(tmp_path, clock, PASSWORD, track) as ctx:
        jobs.plan_email(ctx, jobs.compose_weekly(ctx, jobs.IsoWeek(2026, 48)))
        deliver_due(ctx)
        eml = sorted((tmp_path / "outbox" / "email").glob("*.eml"))[0]
        html = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        body = html.get_body(("html",))
        assert body is not None
        tokens = list(dict.fromkeys(token for _, token in TRACKED.findall(body.get_content())))
        signer = LinkSigner.for_site(ctx.settings.site)
        links = [signer.read_link(token) for token in tokens[:3]]
        clock.now = SENT + timedelta(hours=2)
        recorder = HitRecorder(ctx.store.engine, ctx.settings.site, ctx.settings.tracking, clock)
        for index, (link, readers) in enumerate(zip(links, READERS, strict=True)):
            assert link is not None
            for n in range(readers):  # one reader a link: the same client on every link is a bot
                address = f"203.0.113.{10 * index + n + 1}"
                recorder.record(link, None, method="GET", user_agent=BROWSER, address=address)
        assert links[0] is not None
        for address in ("192.0.2.1", "192.0.2.2"):
            recorder.record(links[0], None, method="HEAD", user_agent=BROWSER, address=address)
        recorder.flush(everything=True)
        yield ctx


@pytest.fixture
def desk(clicked: Context) -> Iterator[Client]:
    with client_for(create_app(clicked)) as client:
        assert log_in(client, PASSWORD, name=ADMIN).status_code == 303
        yield client


def test_a_digest_report_shows_the_figures_of_digest_report_and_a_bar_per_link(
    desk: Client, clicked: Context
) -> None:
    report = read_digest_report(clicked.store, clicked.settings.tracking, WEEKLY)
    assert report is not None and report.clicks == sum(READERS) and report.scanner_clicks == 2
    page = desk.get(f"/editor/reports/{WEEKLY}")
    assert page.status_code == 200
    text = page.text
    assert f'<dd id="delivered">{report.delivered:,}</dd>' in text
    assert f'<dd id="readers">{report.readers:,}</dd>' in text
    assert f'<dd id="clicks">{sum(READERS)}</dd>' in text
    assert '<dd id="scanner-clicks">2</dd>' in text
    # The bar chart: inline SVG, a bar per clicked link, the most clicked full width.
    chart = text.split('<svg class="bar-chart"')[1].split("</svg>")[0]
    widths = re.findall(r'<rect class="bar-value" x="0" y="\d+" width="([\d.]+)%"', chart)
    assert [float(width) for width in widths] == [round(100 * r / 7, 2) for r in READERS]
    assert len(re.findall(r'<rect class="bar-other"', chart)) == 1  # the scanners' clicks
    assert report.links[0].label[:30] in chart
    # No inline style or script: the CSP would refuse them.
    assert " style=" not in text and "<script>" not in text
    # Every table, as digest report --csv writes it, and one alone.
    whole = desk.get(f"/editor/reports/{WEEKLY}.csv")
    assert whole.headers["content-type"].startswith("text/csv")
    assert whole.text == tables_csv(report.tables())
    links = desk.get(f"/editor/reports/{WEEKLY}.csv", params={"table": "links"})
    assert links.text == report.links_table().csv()
    assert "attachment" in links.headers["content-disposition"]
    assert desk.get(f"/editor/reports/{WEEKLY}.csv", params={"table": "nope"}).status_code == 404
    assert desk.get("/editor/reports/weekly:1999-W01").status_code == 404


def test_the_reports_page_draws_the_last_weeks_and_lists_the_digests(
    desk: Client, clicked: Context
) -> None:
    page = desk.get("/editor/reports").text
    overview = read_overview(clicked.store, clicked.clock(), clicked.settings.site.zone)
    assert overview.channels.lines == (("email", (0,) * 11 + (sum(READERS),)),)
    channel_chart = page.split('id="channel-chart"')[1].split("</figure>")[0]
    assert len(re.findall(r"<polyline ", channel_chart)) == 1
    assert "2026-W38" in channel_chart and "2026-W49" in channel_chart  # twelve weeks
    digests = page.split('id="digests"')[1]
    assert f'href="/editor/reports/{WEEKLY}"' in digests
    assert " style=" not in page
    assert desk.get("/editor/reports.csv").text == tables_csv(overview.tables())
    weeks = desk.get("/editor/reports.csv", params={"table": "channel_weeks"}).text
    assert weeks.splitlines()[0] == "week,email" and weeks.splitlines()[-1] == "2026-W49,9"


def test_the_report_pages_in_chromium_at_1280_and_375_px(browser: Any, clicked: Context) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(create_app(clicked)) as base:
        for width in (1280, 375):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            refused: list[str] = []
            page.on("console", lambda message, seen=refused: seen.append(message.text))
            try:
                page.goto(f"{base}/editor/login")
                page.fill("#name", ADMIN)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/editor/")
                page.click("text=Reports")
                page.wait_for_url(f"{base}/editor/reports")
                page.screenshot(path=str(ARTIFACTS / f"reports-{width}.png"), full_page=True)
                assert page.evaluate("document.scrollingElement.scrollWidth") <= width
                page.click(f'#digests a[href="/editor/reports/{WEEKLY}"]')
                page.wait_for_url(f"**/editor/reports/{WEEKLY}")
                page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=True)
                assert page.evaluate("document.scrollingElement.scrollWidth") <= width
                bars = page.locator("#clicks-chart svg.bar-chart rect.bar-value")
                assert bars.count() == len(READERS)
                first, last = (bars.nth(i).bounding_box() for i in (0, len(READERS) - 1))
                assert first is not None and last is not None
                assert first["width"] == pytest.approx(
                    READERS[0] / READERS[-1] * last["width"], rel=0.05
                )
                # Styled by editor.css, not the browser's default black.
                fill = bars.first.evaluate("bar => getComputedStyle(bar).fill")
                assert fill == "rgb(11, 92, 173)"
                assert not [text for text in refused if "Content Security Policy" in text]
            finally:
                context.close()
