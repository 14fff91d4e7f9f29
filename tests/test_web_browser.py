"""The archive in a real browser: the page a "view in browser" link opens renders the digest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from web_support import ARTIFACTS, live_server

from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.settings import parse_settings
from digest.store import Store
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent


def test_the_archive_opens_a_digest_in_chromium(browser: Any, tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.write_batch(read_sources([str(REPO / "digest" / "data" / "sample.yaml")]))
        store.save_subscribers(
            read_subscribers(REPO / "digest" / "data" / "sample-subscribers.csv")
        )
        ctx = Context(settings=settings, store=store, env=template_environment())
        week = jobs.latest_week(ctx)
        assert week is not None
        jobs.plan_email(ctx, jobs.compose_weekly(ctx, week))
        with live_server(create_app(ctx)) as base:
            page = browser.new_page()
            page.goto(f"{base}/")
            page.click("text=The week in AI")
            page.wait_for_load_state()
            assert "/archive/weekly:2026-W48" in page.url
            assert page.locator("text=The AMW Read").count() >= 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "archive-weekly.png"), full_page=True)
            page.close()
