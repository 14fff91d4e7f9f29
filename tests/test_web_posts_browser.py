"""Marketing edits a post in headless Chromium: the count follows every keystroke (the
platform's own counting, asked of the desk), an over-long text turns the counter red and the
save button off, and what is saved is what the worker posts. Each post shows its share card.
Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from web_support import ARTIFACTS, live_server

from digest.compose import IsoWeek
from digest.context import Context
from digest.ingest import read_sources
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.settings import parse_settings
from digest.store import Store, schema
from digest.store.accounts import Role, create_account
from digest.store.audit import entries_for
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"
PASSWORD = "a marketer's typed password"
WEEKLY = "weekly:2026-W48"


def first_x_row(store: Store) -> Any:
    query = (
        select(schema.deliveries)
        .where(schema.deliveries.c.target == "x")
        .order_by(schema.deliveries.c.available_at, schema.deliveries.c.id)
        .limit(1)
    )
    with store.engine.connect() as connection:
        return connection.execute(query).mappings().one()


def test_marketing_edits_a_post_and_the_live_count_refuses_an_over_long_one(
    browser: Any, tmp_path: Path
) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    for channel in raw["social"]:
        channel["options"]["directory"] = str(tmp_path / "outbox" / "social")
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    now = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.write_batch(read_sources([str(DATA / "sample.yaml")]))
        create_account(
            store.engine, name="Mia Marketing", email="mia@example.org", role=Role.MARKETING,
            password=PASSWORD, now=now,
        )  # fmt: skip
        ctx = Context(settings=settings, store=store, env=template_environment(), clock=lambda: now)
        jobs.plan_social(ctx, jobs.compose_weekly(ctx, IsoWeek.parse("2026-W48")))
        row = first_x_row(store)
        url = row["payload"]["url"]
        card = f"#post-{row['id']}"
        with live_server(create_app(ctx)) as base:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            try:
                page.goto(f"{base}/editor/digest/{WEEKLY}/posts")
                page.fill("#name", "Mia Marketing")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"**/editor/digest/{WEEKLY}/posts")
                counter = page.locator(f"{card} [data-count]")
                save = page.locator(f"{card} [data-save]")
                text = page.locator(f"{card} textarea")
                assert counter.inner_text() == f"{row['payload']['length']} / 280"

                # The post's share card, a picture the browser could load (under CSP's
                # img-src 'self', from the desk's own route), with its alt text.
                picture = page.locator(f"{card} img.card-image")
                assert picture.get_attribute("src") == f"/editor/{row['payload']['image']}"
                assert picture.get_attribute("alt")
                # Lazy: it loads once scrolled to, as a marketer reading down the desk does.
                picture.scroll_into_view_if_needed()
                page.wait_for_function(
                    "el => el.complete && el.naturalWidth > 0", arg=picture.element_handle()
                )
                assert picture.evaluate("el => el.naturalWidth") == 1200
                page.screenshot(path=str(ARTIFACTS / "desk-post-card-1280.png"))

                # A short text, typed key by key: X counts the link 23 and the flag 2.
                text.fill("")
                short = f"🇸🇪 Mistral goes north {url}"
                text.press_sequentially(short)
                expected = 2 + len(" Mistral goes north ") + 23
                page.wait_for_function(
                    "([el, want]) => el.textContent === want",
                    arg=[counter.element_handle(), f"{expected} / 280"],
                )
                text.press_sequentially(" #AI")
                page.wait_for_function(
                    "([el, want]) => el.textContent === want",
                    arg=[counter.element_handle(), f"{expected + 4} / 280"],
                )
                shown = page.locator(f"{card} [data-shown]")
                assert shown.locator(".tag").inner_text() == "#AI"  # the preview follows
                assert save.is_enabled()

                # Over the limit: the counter turns red, says by how much, and the save is off.
                text.press_sequentially(" and more" * 30)
                page.wait_for_function("el => el.disabled", arg=save.element_handle())
                assert "warning" in (counter.get_attribute("class") or "")
                over = expected + 4 + len(" and more") * 30 - 280
                assert page.locator(f"{card} [data-problems]").inner_text() == (
                    f"{over} over the limit of 280"
                )
                page.screenshot(path=str(ARTIFACTS / "desk-post-over-limit-1280.png"))
                assert first_x_row(store)["payload"]["text"] == row["payload"]["text"]

                # Back under the limit: saved, and the page shows it.
                text.fill(f"{short} #AI #MistralAI")
                page.wait_for_function("el => !el.disabled", arg=save.element_handle())
                save.click()
                page.wait_for_selector("#flash")
                assert "Saved the x post" in page.locator("#flash").inner_text()
                page.screenshot(path=str(ARTIFACTS / "desk-post-saved-1280.png"))
            finally:
                context.close()
        saved = first_x_row(store)["payload"]
        assert saved["text"] == f"{short} #AI #MistralAI"
        assert sorted(saved["hashtags"]) == ["AI", "MistralAI"]  # as the text now carries them
        (entry,) = entries_for(store.engine, WEEKLY)
        assert (entry.action, entry.actor) == ("post.text", "editor:Mia Marketing")
