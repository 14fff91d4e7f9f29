"""The scheduled pull of the site's feeds (schedules.ingest), through httpx.MockTransport: 200s
with validators, 304s, failures that leave the store as it was and are retried in full."""

# Expected log lines read best whole.
# ruff: noqa: E501

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from digest.context import Context
from digest.errors import ConfigError
from digest.ingest import read_sources
from digest.render.templates import template_environment
from digest.schedule import ingest, scheduler
from digest.settings import parse_settings
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=PARIS)
SITE = "https://news.example.org/feed.json"
OTHER = "https://news.example.org/feed.rss"
COMPANIES = "companies:\n  - {slug: mistral-ai, name: Mistral AI, sector: LLMs, country: FR, hashtag: MistralAI}\n"


def json_feed(*items: tuple[str, str]) -> bytes:
    """A JSON Feed 1.1 of items given as (id, title)."""
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "AMW",
            "items": [
                {
                    "id": item_id,
                    "url": f"https://news.example.org/news/{item_id}",
                    "external_url": f"https://source.example.com/{item_id}",
                    "title": title,
                    "summary": f"About {item_id}.",
                    "date_published": "2026-11-27T09:30:00+01:00",
                    "tags": ["mistral-ai", "Expansion", "Geopolitics"],
                }
                for item_id, title in items
            ],
        }
    ).encode()


RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><guid>r1</guid>'
    b"<title>From RSS</title><link>https://news.example.org/news/r1</link><description>D."
    b"</description><pubDate>Fri, 27 Nov 2026 09:30:00 +0100</pubDate><category>mistral-ai"
    b"</category><category>Funding</category></item></channel></rss>"
)


class Site:
    """A feed server: each URL's current answer, and the requests it was sent."""

    def __init__(self) -> None:
        self.answers: dict[str, Callable[[httpx.Request], httpx.Response]] = {}
        self.requests: list[httpx.Request] = []

    def serve(self, url: str, body: bytes, content_type: str, **validators: str) -> None:
        etag, modified = validators.get("etag"), validators.get("last_modified")

        def answer(request: httpx.Request) -> httpx.Response:
            fresh = (etag and request.headers.get("if-none-match") == etag) or (
                modified and request.headers.get("if-modified-since") == modified
            )
            headers = {"content-type": content_type}
            headers |= {"etag": etag} if etag else {}
            headers |= {"last-modified": modified} if modified else {}
            return httpx.Response(
                304 if fresh else 200, headers=headers, content=b"" if fresh else body
            )

        self.answers[url] = answer

    def fail(self, url: str, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers[url] = answer

    def client(self) -> httpx.Client:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.answers[str(request.url)](request)

        return httpx.Client(transport=httpx.MockTransport(handle))

    def sent(self, url: str) -> httpx.Request:
        return [request for request in self.requests if str(request.url) == url][-1]


@pytest.fixture
def context(store: Store, tmp_path: Path) -> Iterator[Context]:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["schedules"]["ingest"] = {"cron": "*/15 * * * *", "urls": [SITE, OTHER]}
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    (tmp_path / "companies.yaml").write_text(COMPANIES)
    store.write_batch(read_sources([str(tmp_path / "companies.yaml")]))
    yield Context(settings=settings, store=store, env=template_environment(), clock=lambda: NOW)


def titles(store: Store) -> dict[str, str]:
    items = store.items_between(
        datetime(2026, 11, 1, tzinfo=PARIS), datetime(2026, 12, 1, tzinfo=PARIS)
    )
    return {item.id: item.title for item in items}


def test_feeds_are_pulled_then_asked_only_for_what_changed(
    context: Context, caplog: pytest.LogCaptureFixture
) -> None:
    site = Site()
    site.serve(SITE, json_feed(("a", "A"), ("b", "B")), "application/feed+json", etag='"v1"')
    site.serve(OTHER, RSS, "application/rss+xml", last_modified="Fri, 27 Nov 2026 09:00:00 GMT")
    caplog.set_level(logging.INFO, logger="digest")
    with site.client() as client:
        assert ingest.pull_feeds(context, client).states == {"changed": 2}
        assert titles(context.store) == {"a": "A", "b": "B", "r1": "From RSS"}
        (item,) = [i for i in context.store.items_between(NOW.replace(day=1), NOW) if i.id == "a"]
        assert (item.url, item.page_url) == (
            "https://source.example.com/a",
            "https://news.example.org/news/a",
        )
        assert (
            f"feed {SITE}: items: 2 new, 0 updated, 0 unchanged; topics: 1 new, 0 updated, 0 unchanged"
            in caplog.messages
        )
        source = context.store.feed_source(SITE)
        assert source is not None and (source.etag, source.checked_at, source.changed_at) == (
            '"v1"',
            NOW,
            NOW,
        )

        # Nothing changed: each server is asked with its validators and answers 304.
        later = replace(context, clock=lambda: NOW.replace(hour=10))
        assert ingest.pull_feeds(later, client).states == {"not modified": 2}
        assert site.sent(SITE).headers["if-none-match"] == '"v1"'
        assert site.sent(OTHER).headers["if-modified-since"] == "Fri, 27 Nov 2026 09:00:00 GMT"
        source = context.store.feed_source(SITE)
        assert source is not None and (source.checked_at, source.changed_at) == (
            NOW.replace(hour=10),
            NOW,
        )

        # One item changed, one is new; the same feed again with a new tag changes nothing.
        site.serve(
            SITE,
            json_feed(("a", "A, revised"), ("b", "B"), ("c", "C")),
            "application/feed+json",
            etag='"v2"',
        )
        assert ingest.pull_feeds(context, client).states == {"changed": 1, "not modified": 1}
        assert (
            f"feed {SITE}: items: 1 new, 1 updated, 1 unchanged; topics: 0 new, 0 updated, 1 unchanged"
            in caplog.messages
        )
        site.serve(
            SITE,
            json_feed(("a", "A, revised"), ("b", "B"), ("c", "C")),
            "application/feed+json",
            etag='"v3"',
        )
        assert ingest.pull_feeds(context, client).states == {"unchanged": 1, "not modified": 1}
    assert titles(context.store) == {"a": "A, revised", "b": "B", "c": "C", "r1": "From RSS"}


def test_a_feed_that_fails_changes_nothing_and_is_read_again_in_full(
    context: Context, caplog: pytest.LogCaptureFixture
) -> None:
    site = Site()
    site.serve(SITE, json_feed(("a", "A")), "application/feed+json", etag='"v1"')
    site.serve(OTHER, RSS, "application/rss+xml")
    with site.client() as client:
        ingest.pull_feeds(context, client)
        before = titles(context.store)
        # A broken item, a server error and an unreachable server: each fails alone.
        broken = json.loads(json_feed(("a", "A, broken"), ("d", "D")))
        broken["items"][1]["date_published"] = "soon"
        site.serve(SITE, json.dumps(broken).encode(), "application/feed+json", etag='"v2"')
        site.fail(OTHER, lambda request: httpx.Response(503))
        caplog.set_level(logging.INFO, logger="digest")
        assert ingest.pull_feeds(context, client).states == {"failed": 2}
        assert titles(context.store) == before
        assert (
            f"feed {SITE}: not ingested (1 problem); the store is unchanged, the next run reads it again"
            in caplog.messages
        )
        assert (
            f'feed {SITE}:items[1]: published_at: "soon" is not an ISO 8601 date and time; write it as 2026-11-27T09:30:00+01:00'
            in caplog.messages
        )
        assert any(f"feed {OTHER}: not read (the server answered 503" in m for m in caplog.messages)
        source = context.store.feed_source(SITE)
        assert source is not None and source.etag == '"v1"'  # the last good read's

        def refused(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        site.fail(OTHER, refused)
        site.serve(
            SITE, json_feed(("a", "A, fixed"), ("d", "D")), "application/feed+json", etag='"v3"'
        )
        assert ingest.pull_feeds(context, client).states == {"changed": 1, "failed": 1}
        assert (
            site.sent(SITE).headers["if-none-match"] == '"v1"'
        )  # asked as after the last good read
        assert any(f"feed {OTHER}: not read (connection refused)" in m for m in caplog.messages)
    assert titles(context.store) == {**before, "a": "A, fixed", "d": "D"}


def test_the_scheduler_runs_the_pull_at_its_cron(
    context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Site()
    site.serve(SITE, json_feed(("a", "A")), "application/feed+json")
    site.serve(OTHER, RSS, "application/rss+xml")
    monkeypatch.setattr(ingest, "new_client", site.client)
    sched = scheduler.build_scheduler(context)
    sched.start(paused=True)
    try:
        scheduler.reconcile(sched, context)
        due = sched.get_job("ingest").next_run_time
    finally:
        sched.shutdown(wait=False)
    assert due.minute % 15 == 0
    runs = scheduler.run_due(context, due + timedelta(minutes=1))
    assert [run.name for run in runs if run.ran] == ["ingest"]
    assert titles(context.store) == {"a": "A", "r1": "From RSS"}


def test_without_urls_there_is_no_pull(store: Store, tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    assert not settings.schedules.ingest.enabled
    ctx = Context(settings=settings, store=store, env=template_environment(), clock=lambda: NOW)
    sched = scheduler.build_scheduler(ctx)
    sched.start(paused=True)
    try:
        scheduler.reconcile(sched, ctx)
        assert "ingest" not in [job.id for job in sched.get_jobs()]
    finally:
        sched.shutdown(wait=False)


@pytest.mark.parametrize(
    ("ingest_settings", "expected"),
    [
        (
            {"cron": "*/15 * * * *"},
            "schedules.ingest.urls: list the feeds to pull, or set enabled: false",
        ),
        (
            {"urls": ["ftp://x/feed"]},
            "schedules.ingest.urls[0]: 'ftp://x/feed' is not an http(s) URL",
        ),
        ({"urls": [SITE], "cron": "every 15 minutes"}, "schedules.ingest.cron: "),
        ({"urls": [SITE], "url": SITE}, "schedules.ingest.url: unknown key, did you mean urls?"),
    ],
)
def test_schedule_settings_problems(ingest_settings: dict[str, object], expected: str) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["schedules"]["ingest"] = ingest_settings
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, where="settings.yaml", root=Path("."))
    assert any(f"{p.field}: {p.message}".startswith(expected) for p in caught.value.problems)
