"""Each (post, channel) is delivered once, through the outbox, on SQLite and PostgreSQL.

Platforms without idempotency keys (X, LinkedIn, Threads, webhooks) are never posted to blindly a
second time: the attempt is written on the row before the call; a row whose outcome is unknown
is looked for on the platform when the adapter can (Threads, Bluesky), or held for an editor.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from digest import outbox
from digest.cli import deliver_with_progress
from digest.context import Context
from digest.delivery.social import social_adapters
from digest.delivery.social.base import UNKNOWN_OUTCOME
from digest.models import DeliveryChannel, DeliveryResult, DeliveryState, DeliveryStatus
from digest.render.social import SocialPost
from digest.render.templates import template_environment
from digest.schedule.deliverer import Deliverer
from digest.settings import parse_settings
from digest.store import Store
from digest.store.schema import deliveries

START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
TEXT = "Mistral goes north https://example.com/a"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Crash(BaseException):
    """The worker process dies in the middle of a call (nothing catches this)."""


class Service:
    """A MockTransport handler answering by (method, path) from queues, counting calls."""

    def __init__(self, answers: dict[tuple[str, str], list[Any]]) -> None:
        self.answers = answers
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        answer = self.answers[(request.method, request.url.path)].pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.calls if (r.method, r.url.path) == (method, path))


CHANNELS = {
    "x": {"access_token": "tok-x"},
    "threads": {"user_id": "1789", "access_token": "tok-t"},
    "mastodon": {"base_url": "https://m.example", "access_token": "tok-m"},
}


def context(store: Store, tmp_path: Path, kind: str, clock: Clock) -> Context:
    raw = {
        "version": 1,
        "site": {
            "name": "AMW",
            "base_url": "https://news.example.org",
            "from_address": "AMW <digest@news.example.org>",
            "list_id": "weekly.news.example.org",
            "secret_key": "a-long-enough-secret-key",
        },
        "social": [{"name": "main", "type": kind, "options": CHANNELS[kind]}],
    }
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    return Context(settings=settings, store=store, env=template_environment(), clock=clock)


def a_post(key: str = "item:a", **extra: Any) -> SocialPost:
    return SocialPost(
        "weekly:2026-W48", key, "x", TEXT, "https://example.com/a", (), 40, 280, **extra
    )


def plan(ctx: Context, *posts: SocialPost) -> None:
    rows = [
        outbox.PlannedDelivery(
            idempotency_key=f"weekly:2026-W48/social/main/{post.key}",
            digest_key="weekly:2026-W48",
            channel=DeliveryChannel.SOCIAL,
            target="main",
            payload=post.to_dict(),
        )
        for post in posts
    ]
    outbox.plan(ctx.store.engine, rows, now=ctx.clock())


def run(ctx: Context, service: Service) -> dict[str, int]:
    deliverer = Deliverer(ctx, owner="worker-1")
    client = httpx.Client(transport=httpx.MockTransport(service))
    deliverer._social = social_adapters(
        ctx.settings, client=client, clock=ctx.clock
    )  # the HTTP seam
    return deliverer.run().states


def rows(ctx: Context) -> list[dict[str, Any]]:
    with ctx.store.engine.connect() as connection:
        found = connection.execute(select(deliveries).order_by(deliveries.c.id)).mappings().all()
    return [dict(row) for row in found]


TWEET = ("POST", "/2/tweets")
CREATED = httpx.Response(201, json={"data": {"id": "1861", "text": TEXT}})


def test_x_after_no_answer_is_held_for_an_editor_not_posted_again(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "x", clock)
    plan(ctx, a_post())
    service = Service({TWEET: [httpx.ReadTimeout("no answer"), CREATED]})
    assert run(ctx, service) == {"planned": 1}
    (row,) = rows(ctx)
    assert row["last_error"].startswith(UNKNOWN_OUTCOME)

    clock.advance(hours=2)
    assert run(ctx, service) == {"held": 1}
    assert service.count(*TWEET) == 1  # the tweet may be up: never sent a second time
    (row,) = rows(ctx)
    assert row["state"] == "held" and "Look on main for this post" in row["last_error"]

    clock.advance(hours=2)
    assert run(ctx, service) == {}  # a held row is not claimed again
    # The editor found it on X: the row is closed as sent, with the tweet's id.
    assert outbox.release_held(ctx.store.engine, row["id"], now=clock(), provider_id="1861") == (
        DeliveryState.SENT
    )
    assert rows(ctx)[0]["provider_id"] == "1861"


def test_a_worker_dying_mid_call_leaves_a_row_that_is_held_not_reposted(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "x", clock)
    plan(ctx, a_post())
    service = Service({TWEET: [Crash(), CREATED]})
    with pytest.raises(Crash):
        run(ctx, service)
    (row,) = rows(ctx)
    assert row["state"] == "claimed" and row["last_error"].startswith(UNKNOWN_OUTCOME)

    clock.advance(minutes=30)  # the lease ran out
    assert run(ctx, service) == {"held": 1}
    assert service.count(*TWEET) == 1


def test_an_editor_can_release_a_held_row_that_was_not_posted(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "x", clock)
    plan(ctx, a_post())
    service = Service({TWEET: [httpx.ReadTimeout("no answer"), CREATED]})
    run(ctx, service)
    clock.advance(hours=2)
    run(ctx, service)
    (row,) = rows(ctx)
    assert outbox.release_held(ctx.store.engine, row["id"], now=clock()) is DeliveryState.PLANNED
    assert run(ctx, service) == {"sent": 1}
    assert service.count(*TWEET) == 2


def test_a_refusal_with_a_known_outcome_is_simply_retried(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "x", clock)
    plan(ctx, a_post())
    limited = httpx.Response(429, headers={"x-rate-limit-reset": str(int(START.timestamp()) + 900)})
    service = Service({TWEET: [limited, CREATED]})
    assert run(ctx, service) == {"planned": 1}
    (row,) = rows(ctx)
    assert row["available_at"].replace(tzinfo=UTC) >= START + timedelta(seconds=900)
    clock.advance(hours=2)
    assert run(ctx, service) == {"sent": 1}  # a 429 posted nothing: no need to hold it
    assert service.count(*TWEET) == 2


def test_threads_after_no_answer_finds_the_post_instead_of_posting_again(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "threads", clock)
    plan(ctx, a_post())
    create, publish = ("POST", "/v1.0/1789/threads"), ("POST", "/v1.0/1789/threads_publish")
    listing = ("GET", "/v1.0/1789/threads")
    service = Service(
        {
            create: [httpx.Response(200, json={"id": "c-1"})],
            publish: [httpx.ReadTimeout("no answer")],
            listing: [httpx.Response(200, json={"data": [{"id": "t-9", "text": TEXT}]})],
        }
    )
    assert run(ctx, service) == {"planned": 1}
    clock.advance(hours=2)
    assert run(ctx, service) == {"sent": 1}
    assert rows(ctx)[0]["provider_id"] == "t-9"
    assert (service.count(*create), service.count(*publish)) == (1, 1)


def test_mastodon_retries_an_unanswered_post_with_the_same_idempotency_key(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "mastodon", clock)
    plan(ctx, a_post())
    statuses = ("POST", "/api/v1/statuses")
    service = Service(
        {statuses: [httpx.ReadTimeout("no answer"), httpx.Response(200, json={"id": "7"})]}
    )
    run(ctx, service)
    clock.advance(hours=2)
    assert run(ctx, service) == {"sent": 1}
    first, second = service.calls
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_a_thread_answers_its_previous_part(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "mastodon", clock)
    plan(
        ctx,
        a_post("top"),
        a_post("top:2", reply_to="top", thread_root="top"),
        a_post("top:3", reply_to="top:2", thread_root="top"),
    )
    statuses = ("POST", "/api/v1/statuses")
    answers = [httpx.Response(200, json={"id": str(n)}) for n in (101, 102, 103)]
    service = Service({statuses: answers})
    assert run(ctx, service) == {"sent": 3}
    bodies = [json.loads(call.content) for call in service.calls]
    assert "in_reply_to_id" not in bodies[0]
    assert [body.get("in_reply_to_id") for body in bodies[1:]] == ["101", "102"]


def test_a_threads_part_waits_while_its_previous_part_is_not_sent(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "mastodon", clock)
    plan(ctx, a_post("top:2", reply_to="top", thread_root="top"))
    service = Service({})
    assert run(ctx, service) == {"planned": 1}
    assert service.calls == []
    assert "previous post" in rows(ctx)[0]["last_error"]


def test_a_threads_part_waiting_for_its_previous_part_uses_no_attempt(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "mastodon", clock)
    plan(ctx, a_post("top:2", reply_to="top", thread_root="top"))
    for _ in range(8):  # the first post held up (rate limited) for longer than 5 attempts last
        assert run(ctx, Service({})) == {"planned": 1}
        clock.advance(hours=1)
    (waiting,) = rows(ctx)
    assert (waiting["state"], waiting["attempts"]) == ("planned", 0)
    plan(ctx, a_post("top"))
    statuses = ("POST", "/api/v1/statuses")
    answers = [httpx.Response(200, json={"id": str(n)}) for n in (101, 102)]
    service = Service({statuses: answers})
    assert run(ctx, service) == {"planned": 1, "sent": 1}  # the first post; its reply waits …
    clock.advance(seconds=11)
    assert run(ctx, service) == {"sent": 1}  # … and follows it
    assert json.loads(service.calls[1].content)["in_reply_to_id"] == "101"


def test_a_threads_part_whose_previous_part_failed_fails_too(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "mastodon", clock)
    plan(ctx, a_post("top"), a_post("top:2", reply_to="top", thread_root="top"))
    (top,) = outbox.claim(
        store.engine, owner="w0", limit=1, lease=timedelta(minutes=5), now=clock.now
    )
    refused = DeliveryResult(DeliveryStatus.REJECTED, response="HTTP 422: text too long")
    outbox.finish(store.engine, top, owner="w0", result=refused, now=clock.now)
    service = Service({})
    assert run(ctx, service) == {"failed": 1}
    assert service.calls == []
    assert "previous post" in rows(ctx)[1]["last_error"]


def test_social_posts_go_out_while_the_email_hourly_limit_is_reached(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "mastodon", clock)
    email = ctx.settings.email
    ctx.settings = replace(ctx.settings, email=replace(email, rate=replace(email.rate, per_hour=1)))
    outbox.plan(
        store.engine,
        [outbox.PlannedDelivery("weekly:2026-W48/email/s1", "weekly:2026-W48",
                                DeliveryChannel.EMAIL, "s1", {})],
        now=clock.now,
    )  # fmt: skip
    # Another worker is sending the hour's one email.
    outbox.claim(store.engine, owner="w0", limit=1, lease=timedelta(minutes=5), now=clock.now)
    plan(ctx, a_post("top"))
    deliverer = Deliverer(ctx, owner="worker-1")
    client = httpx.Client(transport=httpx.MockTransport(Service({
        ("POST", "/api/v1/statuses"): [httpx.Response(200, json={"id": "101"})]
    })))  # fmt: skip
    deliverer._social = social_adapters(ctx.settings, client=client, clock=ctx.clock)
    # Waiting for the hour to pass stops the run instead.
    deliverer.stop.wait = lambda timeout=None: deliverer.stop.set() or True  # type: ignore[method-assign]
    assert deliverer.run().states == {"sent": 1}


def test_a_channel_pauses_after_its_failures_in_a_row_and_its_other_posts_wait(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "mastodon", clock)
    (channel,) = ctx.settings.social
    ctx.settings = replace(ctx.settings, social=(replace(channel, max_consecutive_failures=2),))
    plan(ctx, *(a_post(f"item:{n}") for n in range(4)))
    statuses = ("POST", "/api/v1/statuses")
    service = Service({statuses: [httpx.ConnectError("refused"), httpx.Response(503)]})
    deliverer = Deliverer(ctx, owner="worker-1")
    client = httpx.Client(transport=httpx.MockTransport(service))
    deliverer._social = social_adapters(ctx.settings, client=client, clock=ctx.clock)
    report = deliverer.run()
    assert service.count(*statuses) == 2  # the other two posts were not tried
    assert report.states == {"planned": 4}
    why = report.paused_channels["main"]
    assert why.startswith("channel main paused after 2 failures in a row")
    assert "HTTP 503" in why and "run `digest worker`" in why
    assert report.finished_badly
    untried = [row for row in rows(ctx) if row["attempts"] == 0]
    assert len(untried) == 2 and all(row["last_error"] == why for row in untried)

    clock.advance(hours=1)  # the next run, once the cause is fixed, posts them all
    service.answers[statuses] = [httpx.Response(200, json={"id": str(n)}) for n in range(4)]
    assert run(ctx, service) == {"sent": 4}


def test_a_run_that_leaves_a_post_held_exits_1(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    ctx = context(store, tmp_path, "x", clock)
    plan(ctx, a_post())
    with store.engine.begin() as connection:  # an earlier attempt whose outcome is unknown
        connection.execute(deliveries.update().values(last_error=f"{UNKNOWN_OUTCOME}: timeout"))
    assert deliver_with_progress(ctx) == 1  # held: nothing was called on X
    printed = capsys.readouterr()
    assert "delivered: 1 held for an editor" in printed.out
    assert "see `digest held list`" in printed.err
