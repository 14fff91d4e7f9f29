"""A subscriber's whole life in headless Chromium: subscribe through the form, confirm from the
message the worker delivered, change preferences, unsubscribe. Screenshots in test-artifacts/."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from pathlib import Path
from typing import Any

import yaml
from web_support import ARTIFACTS, free_port, live_server

from digest.context import Context
from digest.ingest import read_sources
from digest.models import Preferences, SubscriberStatus
from digest.render.templates import template_environment
from digest.schedule.deliverer import Deliverer
from digest.settings import parse_settings
from digest.store import Store
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent


def test_subscribe_confirm_choose_and_unsubscribe_in_chromium(browser: Any, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    # The links in the delivered message must lead to this server.
    settings = dataclasses.replace(settings, site=dataclasses.replace(settings.site, base_url=base))
    ARTIFACTS.mkdir(exist_ok=True)
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.write_batch(read_sources([str(REPO / "digest" / "data" / "sample.yaml")]))
        ctx = Context(settings=settings, store=store, env=template_environment())
        with live_server(create_app(ctx), port=port):
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{base}/subscribe")
            page.fill("#email", "Browser.Reader@Example.com")
            page.fill("#name", "Bea Browser")
            page.click("button:text-is('Subscribe')")
            page.wait_for_selector("text=Check your inbox")
            page.screenshot(path=str(ARTIFACTS / "subscriber-1-check-inbox.png"), full_page=True)
            subscriber = store.subscriber_by_email("browser.reader@example.com")
            assert subscriber is not None and subscriber.status is SubscriberStatus.PENDING

            # `digest worker`, in-process: the file adapter writes the message into tmp_path.
            assert Deliverer(ctx).run().states == {"sent": 1}
            [path] = list((tmp_path / "outbox" / "email").glob("*.eml"))
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert message["To"] == "Bea Browser <Browser.Reader@example.com>"  # the typed name
            text = message.get_body(("plain",)).get_content()
            link = re.search(rf"{re.escape(base)}/confirm/\S+", text)
            assert link is not None

            page.goto(link.group(0))
            assert store.subscriber(subscriber.id).status is SubscriberStatus.PENDING  # type: ignore[union-attr]
            page.click("button:text-is('Confirm my subscription')")
            page.wait_for_selector("text=You're subscribed")
            page.screenshot(path=str(ARTIFACTS / "subscriber-2-confirmed.png"), full_page=True)
            assert store.subscriber(subscriber.id).status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]

            page.click("text=Choose what you receive")
            page.wait_for_selector("text=Your preferences")
            page.check("label:has-text('Mistral AI') input")
            page.check("label:has-text('Geopolitics') input")
            page.uncheck("input[name=weekly]")
            page.check("input[name=format][value=text]")
            page.select_option("#timezone", "Europe/Berlin")
            page.select_option("#send_hour", "7")
            page.click("text=Save my preferences")
            page.wait_for_selector("text=Saved.")
            page.screenshot(path=str(ARTIFACTS / "subscriber-3-preferences.png"), full_page=True)
            chosen = store.subscriber(subscriber.id)
            assert chosen is not None
            assert chosen.preferences == Preferences(
                weekly=False,
                companies=("mistral-ai",),
                topics=("Geopolitics",),
                send_hour=7,
                format="text",
            )
            assert chosen.timezone == "Europe/Berlin"

            page.click("a:text-is('Unsubscribe')")
            page.wait_for_selector("button:text-is('Unsubscribe')")
            assert store.subscriber(subscriber.id).status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]
            page.click("button:text-is('Unsubscribe')")
            page.wait_for_selector("text=You're unsubscribed")
            page.screenshot(path=str(ARTIFACTS / "subscriber-4-unsubscribed.png"), full_page=True)
            assert store.subscriber(subscriber.id).status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
            page.close()
