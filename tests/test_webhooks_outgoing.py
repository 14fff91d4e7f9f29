"""Outgoing webhooks: events written with their change, fanned out to the endpoints that
listen, delivered through the outbox, signed as Standard Webhooks specify (verified here by the
`standardwebhooks` package, an implementation independent of ours), retried with backoff, and
an endpoint paused after failures in a row.

The receiver is an httpx.MockTransport. The library refuses a signature more than five minutes
from the process clock, so the receiver verifies with that clock set to the test's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from api_support import NOW, SETTINGS_SECRET, ApiWorld, Clock, open_world, seeded_copy, settings_raw
from query_plans import rows_read
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select, text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from digest.delivery.webhook import WebhookSender, body_of, signed_headers
from digest.errors import ConfigError
from digest.events import new_secret
from digest.models import DeliveryChannel, DeliveryState, Subscriber, SubscriberStatus
from digest.names import person_name
from digest.schedule import jobs
from digest.schedule.deliverer import Deliverer
from digest.schedule.webhooks import FAN_OUT_CHUNK, KEEP_EVENTS, WEBHOOK_RETRY, WebhookDeliverer
from digest.settings import parse_settings
from digest.store import Store, events, schema
from digest.store import webhooks as endpoints_store

HOOK_URL = "https://cms.example.org/hooks/digest"
ZOE = "zoe.mueller@example.com"  # sub-001, active


def verified_at(moment: datetime, secret: str, body: str, headers: dict[str, str]) -> Any:
    """The payload the standardwebhooks package finds in a call, verified at `moment`."""
    with time_machine.travel(moment, tick=False):
        return Webhook(secret).verify(body, headers)


@dataclass
class Receiver:
    """A webhook receiver that verifies every call with the standardwebhooks package."""

    secret: str
    clock: Clock
    status: int = 204
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    refused: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        headers = dict(request.headers)
        try:
            payload = verified_at(self.clock(), self.secret, request.content.decode(), headers)
        except WebhookVerificationError:
            self.refused += 1
            return httpx.Response(401)
        if self.status < 300:
            self.received.append(payload)
            self.headers.append(headers)
        return httpx.Response(self.status, text="" if self.status < 300 else "try later")

    def types(self) -> list[str]:
        return [payload["type"] for payload in self.received]


ENDPOINTS = {
    "endpoints": [{"name": "cms", "url": HOOK_URL, "secret": SETTINGS_SECRET}],
    "max_failures": 2,
    "pause_minutes": 30,
}


@pytest.fixture
def world(seeded: Path, tmp_path: Path) -> Iterator[ApiWorld]:
    opened = open_world(seeded_copy(seeded, tmp_path), tmp_path, outgoing_webhooks=ENDPOINTS)
    # The seed's own events (its imported subscribers' subscriber.created) happened before any
    # endpoint listened: each test sees only the events of what it does.
    with opened.ctx.store.engine.begin() as connection:
        connection.execute(schema.webhook_events.delete())
    yield opened
    opened.ctx.close()


@pytest.fixture
def receiver(world: ApiWorld) -> Receiver:
    return Receiver(SETTINGS_SECRET, world.clock)


def deliverer(world: ApiWorld, receiver: Receiver, ahead: timedelta | None = None) -> Deliverer:
    """The worker's deliverer, its webhooks sent to the receiver (and the rows due `ahead` of
    now sent too)."""
    due_by = world.clock() + ahead if ahead is not None else None
    worker = Deliverer(world.ctx, owner="test-worker", due_by=due_by)
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    worker.webhooks = WebhookDeliverer(
        world.ctx, owner=worker.owner, sender=WebhookSender(timeout=5, client=client)
    )
    return worker


def webhook_rows(world: ApiWorld) -> list[Any]:
    query = (
        select(schema.deliveries)
        .where(schema.deliveries.c.channel == DeliveryChannel.WEBHOOK.value)
        .order_by(schema.deliveries.c.id)
    )
    with world.ctx.store.engine.connect() as connection:
        return list(connection.execute(query))


# Signatures ----------------------------------------------------------------------------------


def test_our_signature_is_what_the_standard_webhooks_library_verifies() -> None:
    secret = new_secret()
    payload = {"id": "evt_1", "type": "digest.sent", "timestamp": "t", "data": {"k": "é"}}
    body = body_of(payload)
    headers = signed_headers(secret, "evt_1", NOW, body)
    verified = verified_at(NOW, secret, body.decode(), headers)
    assert verified == {"type": "digest.sent", "timestamp": "t", "data": {"k": "é"}}
    with pytest.raises(WebhookVerificationError):
        verified_at(NOW, secret, body.decode().replace("é", "e"), headers)
    with pytest.raises(WebhookVerificationError):
        verified_at(NOW, new_secret(), body.decode(), headers)
    with pytest.raises(WebhookVerificationError):
        verified_at(NOW, secret, body.decode(), {**headers, "webhook-id": "evt_2"})
    with pytest.raises(WebhookVerificationError):  # signed more than five minutes before
        verified_at(NOW + timedelta(minutes=6), secret, body.decode(), headers)


# Events end to end ---------------------------------------------------------------------------


def test_subscriber_events_reach_the_endpoint_signed(world: ApiWorld, receiver: Receiver) -> None:
    store = world.ctx.store
    pending, _ = store.request_subscription(
        email="ada@example.org",
        name=person_name("Ada"),
        new_id="web-ada",
        timezone="UTC",
        now=world.clock(),
    )
    assert pending is not None
    store.confirm_subscriber("web-ada", world.clock())
    store.unsubscribe("sub-001", world.clock())
    store.mark_undeliverable("jose.alvarez@example.org", SubscriberStatus.BOUNCED, world.clock())
    report = deliverer(world, receiver).run()
    assert receiver.types() == [
        "subscriber.created",
        "subscriber.confirmed",
        "subscriber.unsubscribed",
        "subscriber.bounced",
    ]
    assert receiver.received[1]["data"] == {
        "id": "web-ada",
        "email": "ada@example.org",
        "name": "Ada",
        "given_name": "",
        "family_name": "",
        "status": "active",
    }
    assert receiver.refused == 0
    assert report.states == {"sent": 4}
    ids = [headers["webhook-id"] for headers in receiver.headers]
    assert len(set(ids)) == 4 and all(identifier.startswith("evt_") for identifier in ids)


def test_imported_subscribers_are_created_once(world: ApiWorld, receiver: Receiver) -> None:
    store = world.ctx.store
    newcomer = Subscriber(id="imp-ada", email="ada@example.org", name="Ada")
    store.save_subscribers([newcomer, *store.subscribers()[:2]])
    store.save_subscribers([newcomer])  # imported again: an update, no new subscriber
    deliverer(world, receiver).run()
    assert receiver.types() == ["subscriber.created"]
    assert receiver.received[0]["data"]["id"] == "imp-ada"


def test_a_spam_complaint_is_an_unsubscription(world: ApiWorld, receiver: Receiver) -> None:
    store = world.ctx.store
    store.mark_undeliverable(ZOE, SubscriberStatus.COMPLAINED, world.clock())
    deliverer(world, receiver).run()
    assert receiver.types() == ["subscriber.unsubscribed"]
    assert receiver.received[0]["data"]["status"] == "complained"


def test_digest_and_post_events_follow_a_send(world: ApiWorld, receiver: Receiver) -> None:
    week = jobs.latest_week(world.ctx)
    assert week is not None
    digest = jobs.compose_weekly(world.ctx, week)
    jobs.plan_email(world.ctx, digest, at_once=True)
    jobs.plan_social(world.ctx, digest)
    jobs.plan_email(world.ctx, digest, at_once=True)  # a re-run: digest.planned is not sent twice
    deliverer(world, receiver, ahead=timedelta(days=14)).run()  # the posts, ahead of their slots
    types = receiver.types()
    assert types.count("digest.planned") == 1 and types.count("digest.sent") == 1
    assert "post.published" in types
    sent = next(payload for payload in receiver.received if payload["type"] == "digest.sent")
    assert sent["data"]["key"] == digest.key
    assert sum(sent["data"]["deliveries"].values()) == jobs.plan_email(world.ctx, digest).recipients
    planned = receiver.received[types.index("digest.planned")]["data"]
    assert planned["archive_url"] == f"https://news.example.org/archive/{digest.key}"
    published = next(p for p in receiver.received if p["type"] == "post.published")["data"]
    assert published["digest"] == digest.key and published["text"]
    # The digest's own counts never include its webhooks.
    with world.ctx.store.engine.connect() as connection:
        channels = set(
            connection.scalars(
                select(schema.deliveries.c.channel).where(
                    schema.deliveries.c.digest_key == digest.key
                )
            )
        )
    assert channels == {"email", "social"}


def test_a_failed_delivery_is_an_event(world: ApiWorld, receiver: Receiver) -> None:
    week = jobs.latest_week(world.ctx)
    assert week is not None
    jobs.plan_social(world.ctx, jobs.compose_weekly(world.ctx, week))
    social = schema.deliveries.c.channel == DeliveryChannel.SOCIAL.value
    with world.ctx.store.engine.begin() as connection:
        first = connection.scalar(select(func.min(schema.deliveries.c.id)).where(social))
        connection.execute(
            schema.deliveries.update()
            .where(schema.deliveries.c.id == first)
            .values(target="a-channel-since-removed")
        )
    deliverer(world, receiver, ahead=timedelta(days=14)).run()  # the posts, ahead of their slots
    failed = [p["data"] for p in receiver.received if p["type"] == "delivery.failed"]
    assert [(data["delivery_id"], data["channel"]) for data in failed] == [(first, "social")]


def test_a_row_failed_by_a_claim_is_an_event(world: ApiWorld, receiver: Receiver) -> None:
    """A row whose worker died while the service had it, on its last attempt, is failed by the
    next claim, not by a recorded result: its event is written all the same."""
    week = jobs.latest_week(world.ctx)
    assert week is not None
    jobs.plan_social(world.ctx, jobs.compose_weekly(world.ctx, week))
    social = schema.deliveries.c.channel == DeliveryChannel.SOCIAL.value
    now = world.clock()
    with world.ctx.store.engine.begin() as connection:
        first = connection.scalar(select(func.min(schema.deliveries.c.id)).where(social))
        connection.execute(
            schema.deliveries.update()
            .where(schema.deliveries.c.id == first)
            .values(
                state=DeliveryState.CLAIMED.value,
                attempts=WEBHOOK_RETRY.max_attempts + 10,
                lease_owner="a-dead-worker",
                lease_until=now - timedelta(minutes=1),
                in_flight_since=now - timedelta(minutes=5),
            )
        )
    deliverer(world, receiver).run()
    failed = [p["data"] for p in receiver.received if p["type"] == "delivery.failed"]
    assert [(data["delivery_id"], data["channel"]) for data in failed] == [(first, "social")]


def test_an_endpoint_gets_only_the_events_it_listens_to(
    world: ApiWorld, receiver: Receiver
) -> None:
    endpoints_store.add(
        world.ctx.store.engine,
        name="crm",
        url="https://crm.example.org/in",
        secret=SETTINGS_SECRET,
        events=("subscriber.unsubscribed",),
        by="token:t",
        now=world.clock(),
    )
    world.ctx.store.confirm_subscriber("sub-003", world.clock())
    world.ctx.store.unsubscribe("sub-001", world.clock())
    deliverer(world, receiver).run()
    targets = [(row.target, row.payload["type"]) for row in webhook_rows(world)]
    assert ("crm", "subscriber.unsubscribed") in targets
    assert all(kind == "subscriber.unsubscribed" for target, kind in targets if target == "crm")


def test_fanning_out_twice_plans_each_row_once(world: ApiWorld, receiver: Receiver) -> None:
    world.ctx.store.unsubscribe("sub-001", world.clock())
    with world.ctx.store.engine.connect() as connection:
        pending = events.unfanned(connection, 10)
    hooks = WebhookDeliverer(world.ctx, owner="a")
    assert hooks.fan_out() == 1
    with world.ctx.store.engine.begin() as connection:  # as if the first worker died before marking
        connection.execute(
            schema.webhook_events.update()
            .where(schema.webhook_events.c.id.in_([event.id for event in pending]))
            .values(fanned_out_at=None)
        )
    assert WebhookDeliverer(world.ctx, owner="b").fan_out() == 0
    assert len(webhook_rows(world)) == 1


def pending_events(world: ApiWorld) -> int:
    with world.ctx.store.engine.connect() as connection:
        unfanned = schema.webhook_events.c.fanned_out_at.is_(None)
        return connection.scalar(select(func.count()).where(unfanned)) or 0


def emit_created(store: Store, count: int, now: datetime) -> None:
    batch = [events.Event("subscriber.created", f"subscriber:n{n}", {"n": n}) for n in range(count)]
    with store.engine.begin() as connection:
        events.emit_all(connection, batch, now)


def test_events_of_many_chunks_are_each_fanned_out_once_and_pruned_once(world: ApiWorld) -> None:
    emit_created(world.ctx.store, 2 * FAN_OUT_CHUNK + 7, world.clock())
    with statements_seen(world.ctx.store) as statements:
        assert WebhookDeliverer(world.ctx, owner="a").fan_out() == 2 * FAN_OUT_CHUNK + 7
    keys = [row.idempotency_key for row in webhook_rows(world)]
    assert len(set(keys)) == len(keys) == 2 * FAN_OUT_CHUNK + 7
    assert pending_events(world) == 0
    # Pruning once per call, not per chunk: each prune reads the whole table.
    assert sum(sql.startswith("DELETE FROM webhook_events") for sql, _ in statements) == 1


def test_with_no_endpoint_the_events_are_done_without_rows(seeded: Path, tmp_path: Path) -> None:
    world = open_world(seeded_copy(seeded, tmp_path), tmp_path, outgoing_webhooks={"endpoints": []})
    try:
        emit_created(world.ctx.store, FAN_OUT_CHUNK + 1, world.clock())
        assert pending_events(world) > FAN_OUT_CHUNK
        assert WebhookDeliverer(world.ctx, owner="a").fan_out() == 0
        assert pending_events(world) == 0 and webhook_rows(world) == []
    finally:
        world.ctx.close()


def test_events_fanned_out_a_month_ago_are_deleted_their_rows_kept(world: ApiWorld) -> None:
    hooks = WebhookDeliverer(world.ctx, owner="a")
    world.ctx.store.unsubscribe("sub-001", world.clock())
    assert hooks.fan_out() == 1
    world.clock.advance(seconds=KEEP_EVENTS.total_seconds() - 60)
    world.ctx.store.unsubscribe("sub-002", world.clock())
    assert hooks.fan_out() == 1
    world.clock.advance(minutes=2)
    world.ctx.store.unsubscribe("sub-003", world.clock())
    assert hooks.fan_out() == 1
    with world.ctx.store.engine.connect() as connection:
        left = connection.scalars(select(schema.webhook_events.c.subject)).all()
    assert sorted(left) == ["subscriber:sub-002", "subscriber:sub-003"]
    assert len(webhook_rows(world)) == 3


@contextmanager
def statements_seen(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and parameters) the store runs meanwhile."""
    seen: list[tuple[str, Any]] = []

    def append(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        seen.append((sql, parameters))

    sqlalchemy_event.listen(store.engine, "before_cursor_execute", append)
    try:
        yield seen
    finally:
        sqlalchemy_event.remove(store.engine, "before_cursor_execute", append)


def test_a_chunk_of_pending_events_reads_only_its_own(store: Store) -> None:
    # The next 100 events after 1,000 fanned out must not read those 1,000 again (fanning a
    # send's sign-ups out was quadratic when each chunk did).
    emit_created(store, 3000, NOW)
    with store.engine.begin() as connection:
        first = events.unfanned(connection, 1000)
        events.mark_fanned_out(connection, [event.id for event in first], NOW)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as connection:
            connection.execute(text("ANALYZE webhook_events"))
    with statements_seen(store) as statements, store.engine.connect() as connection:
        chunk = events.unfanned(connection, 100, after=first[-1].id)
    assert [event.id for event in chunk] == list(range(first[-1].id + 1, first[-1].id + 101))
    [(sql, parameters)] = [seen for seen in statements if "FROM webhook_events" in seen[0]]
    if store.engine.dialect.name != "postgresql":
        return  # SQLite's rowid range: nothing to ask a planner
    read, plan = rows_read(store.engine, sql, parameters, "webhook_events")
    assert read <= 100, plan


def test_an_event_with_a_key_happens_once(world: ApiWorld) -> None:
    event = events.Event("digest.sent", "weekly:2026-W48", {"key": "x"}, key="digest.sent/x")
    with world.ctx.store.write() as connection:
        assert events.emit(connection, event, world.clock())
        assert not events.emit(connection, event, world.clock())


# Failures, retries and the pause -------------------------------------------------------------


def test_a_failing_endpoint_is_retried_with_backoff_then_paused(
    world: ApiWorld, receiver: Receiver
) -> None:
    receiver.status = 503
    for subscriber in ("sub-001", "sub-002", "sub-003"):
        world.ctx.store.unsubscribe(subscriber, world.clock())
    deliverer(world, receiver).run()
    rows = webhook_rows(world)
    assert [row.state for row in rows] == ["planned"] * 3
    assert all(row.available_at > world.clock() for row in rows)
    assert all("HTTP 503" in (row.last_error or "") for row in rows)
    health = endpoints_store.health_of(world.ctx.store.engine, "cms")
    assert health.failures == 2 and health.paused(world.clock())  # max_failures: 2
    attempts = sorted(row.attempts for row in rows)
    assert attempts == [0, 1, 1]  # the third waited for the pause, its attempt not counted
    paused = next(row for row in rows if row.attempts == 0)
    assert "paused after 2 failures in a row" in paused.last_error

    receiver.status = 204
    world.clock.advance(minutes=31)  # the pause ends, and every backoff with it
    deliverer(world, receiver).run()
    assert receiver.types() == ["subscriber.unsubscribed"] * 3
    assert {row.state for row in webhook_rows(world)} == {"sent"}
    assert endpoints_store.health_of(world.ctx.store.engine, "cms").failures == 0


def test_resuming_a_paused_endpoint_makes_its_rows_due(world: ApiWorld, receiver: Receiver) -> None:
    receiver.status = 500
    world.ctx.store.unsubscribe("sub-001", world.clock())
    world.ctx.store.unsubscribe("sub-002", world.clock())
    deliverer(world, receiver).run()
    assert endpoints_store.health_of(world.ctx.store.engine, "cms").paused(world.clock())
    endpoints_store.resume(world.ctx.store.engine, "cms", world.clock())
    receiver.status = 200
    deliverer(world, receiver).run()
    assert receiver.types() == ["subscriber.unsubscribed"] * 2


def test_a_receiver_that_says_gone_is_not_retried(world: ApiWorld, receiver: Receiver) -> None:
    receiver.status = 410
    world.ctx.store.unsubscribe("sub-001", world.clock())
    deliverer(world, receiver).run()
    (row,) = webhook_rows(world)
    assert row.state == "failed" and "HTTP 410" in row.last_error


def test_an_unreachable_receiver_is_a_transient_failure(world: ApiWorld) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sender = WebhookSender(timeout=5, client=httpx.Client(transport=httpx.MockTransport(down)))
    payload = {"id": "evt_1", "type": "digest.sent", "timestamp": "t", "data": {}}
    result = sender.send(HOOK_URL, SETTINGS_SECRET, payload, world.clock())
    assert result.transient and "ConnectError" in (result.response or "")


def test_webhook_retries_last_about_a_day() -> None:
    longest = sum(
        min(WEBHOOK_RETRY.max_delay, WEBHOOK_RETRY.base_delay * 2 ** (attempt - 1))
        for attempt in range(1, WEBHOOK_RETRY.max_attempts)
    )
    assert 20 * 3600 < longest < 48 * 3600


# Forgetting and settings ---------------------------------------------------------------------


def test_forgetting_a_subscriber_deletes_their_events_and_webhooks(
    world: ApiWorld, receiver: Receiver
) -> None:
    world.ctx.store.unsubscribe("sub-001", world.clock())
    deliverer(world, receiver).run()
    world.ctx.store.unsubscribe("sub-002", world.clock())
    assert len(webhook_rows(world)) == 1
    world.ctx.store.forget_subscriber(world.clock(), email=ZOE)
    with world.ctx.store.engine.connect() as connection:
        stored = json.dumps(
            [list(row) for row in connection.execute(select(schema.webhook_events))], default=str
        )
    assert ZOE not in stored and "jose.alvarez@example.org" in stored
    assert webhook_rows(world) == []


@pytest.mark.parametrize(
    ("endpoint", "field", "words"),
    [
        ({"secret": "not-a-secret"}, "secret", "whsec_"),
        ({"secret": "whsec_c2hvcnQ="}, "secret", "24 to 64"),
        ({"events": ["digest.eaten"]}, "events", "unknown event"),
        ({"url": "ftp://x"}, "url", "http(s)"),
    ],
)
def test_a_bad_endpoint_in_settings_is_named(
    tmp_path: Path, endpoint: dict[str, Any], field: str, words: str
) -> None:
    values = {"name": "cms", "url": HOOK_URL, "secret": SETTINGS_SECRET, **endpoint}
    raw = settings_raw(tmp_path, outgoing_webhooks={"endpoints": [values]})
    with pytest.raises(ConfigError) as error:
        parse_settings(raw, where="settings.yaml", root=tmp_path)
    (problem,) = error.value.problems
    assert problem.field == f"outgoing_webhooks.endpoints[0].{field}" and words in problem.message


def test_rows_of_an_endpoint_that_is_gone_fail(world: ApiWorld, receiver: Receiver) -> None:
    endpoints_store.add(
        world.ctx.store.engine,
        name="crm",
        url="https://crm.example.org/in",
        secret=SETTINGS_SECRET,
        events=(),
        by="token:t",
        now=world.clock(),
    )
    world.ctx.store.unsubscribe("sub-001", world.clock())
    WebhookDeliverer(world.ctx, owner="a").fan_out()
    with world.ctx.store.engine.begin() as connection:
        connection.execute(schema.webhook_endpoints.delete())
    deliverer(world, receiver).run()
    states = {row.target: row.state for row in webhook_rows(world)}
    assert states == {"cms": DeliveryState.SENT.value, "crm": DeliveryState.FAILED.value}
