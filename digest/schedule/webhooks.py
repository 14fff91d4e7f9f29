"""Outgoing webhooks in the worker: events fanned out to the endpoints that listen, then each
(event, endpoint) row delivered like any outbox row.

Fanning out is planning: one row per endpoint whose `events` include the event's type, keyed
`webhook/ENDPOINT/EVENT_ID`, so planning again (two workers at once, or a worker that died
between planning and marking the events done) adds nothing. An endpoint whose attempts failed
`max_failures` times in a row is paused for `pause_minutes`: its rows wait, their attempts not
counted, and go once the pause ends (or the API resumes it). Retries are the outbox's, with a
longer schedule than email's: a receiver down for hours still gets every event.
"""

from __future__ import annotations

from datetime import timedelta

from digest import outbox
from digest.context import Context
from digest.delivery.webhook import WebhookSender
from digest.models import Delivery, DeliveryChannel, DeliveryResult, DeliveryState, DeliveryStatus
from digest.outbox import PlannedDelivery, RetryPolicy
from digest.store import events
from digest.store import webhooks as endpoints_store
from digest.store.webhooks import Endpoint

# About 1, 2, 4 … minutes up to 6 hours between tries: some 28 hours in all before a row fails.
WEBHOOK_RETRY = RetryPolicy(max_attempts=12, base_delay=60.0, max_delay=6 * 3600.0)
FAN_OUT_CHUNK = 500
KEEP_EVENTS = timedelta(days=30)  # events fanned out longer ago are deleted (their rows stay)


def webhook_key(endpoint: str, event_id: str) -> str:
    return f"webhook/{endpoint}/{event_id}"


class WebhookDeliverer:
    """One per worker: fans events out, and delivers the rows claimed for webhooks."""

    def __init__(self, ctx: Context, *, owner: str, sender: WebhookSender | None = None) -> None:
        self.ctx = ctx
        self.owner = owner
        self.settings = ctx.settings.outgoing_webhooks
        self._sender = sender

    @property
    def sender(self) -> WebhookSender:
        if self._sender is None:
            self._sender = WebhookSender(timeout=self.settings.timeout_seconds)
        return self._sender

    def endpoints(self) -> dict[str, Endpoint]:
        return endpoints_store.endpoints(self.ctx.store.engine, self.settings.endpoints)

    def fan_out(self) -> int:
        """Plan a row per listening endpoint for every event not fanned out yet; how many."""
        engine = self.ctx.store.engine
        planned, after, done = 0, 0, 0
        targets = list(self.endpoints().values())
        while True:
            now = self.ctx.clock()
            if not targets:  # nothing listens: the pending events are done, in one statement
                with engine.begin() as connection:
                    done += events.mark_all_fanned_out(connection, now)
                break
            with engine.connect() as connection:
                pending = events.unfanned(connection, FAN_OUT_CHUNK, after=after)
            if not pending:
                break
            done += len(pending)
            rows = [
                PlannedDelivery(
                    idempotency_key=webhook_key(endpoint.name, event.event_id),
                    digest_key=events.fanned_out_key(event.subject),
                    channel=DeliveryChannel.WEBHOOK,
                    target=endpoint.name,
                    payload={
                        "id": event.event_id,
                        "type": event.type,
                        "timestamp": event.created_at.isoformat(),
                        "data": dict(event.data),
                    },
                )
                for event in pending
                for endpoint in targets
                if endpoint.wants(event.type)
            ]
            planned += outbox.plan(engine, rows, now=now)
            with engine.begin() as connection:
                events.mark_fanned_out(connection, [event.id for event in pending], now)
            if len(pending) < FAN_OUT_CHUNK:
                break
            after = pending[-1].id
            targets = list(self.endpoints().values())  # one added or removed meanwhile counts
        if done:  # once a call, and only when events came: the worker calls this every batch
            with engine.begin() as connection:
                events.prune(connection, self.ctx.clock() - KEEP_EVENTS)
        return planned

    def deliver(self, row: Delivery) -> DeliveryState:
        engine, now = self.ctx.store.engine, self.ctx.clock()
        endpoint = self.endpoints().get(row.target)
        if endpoint is None:
            gone = DeliveryResult(
                DeliveryStatus.REJECTED, response=f"no webhook endpoint named {row.target!r} now"
            )
            return outbox.finish(engine, row, owner=self.owner, result=gone, now=now)
        health = endpoints_store.health_of(engine, endpoint.name)
        if health.paused(now) and health.paused_until is not None:
            reason = (
                f"endpoint {endpoint.name} paused after {health.failures} failures in a row "
                f"(the last: {health.last_error}) until {health.paused_until.isoformat()}; "
                f"POST /api/v1/webhooks/{endpoint.name}/resume to resume it sooner"
            )
            wait = (health.paused_until - now).total_seconds()
            outbox.postpone(engine, row, owner=self.owner, seconds=wait, reason=reason, now=now)
            return DeliveryState.PLANNED
        result = self.sender.send(endpoint.url, endpoint.secret, row.payload, now)
        endpoints_store.record_attempt(
            engine,
            endpoint.name,
            error=None if result.status is DeliveryStatus.SENT else result.response or "failed",
            now=now,
            max_failures=self.settings.max_failures,
            pause=timedelta(minutes=self.settings.pause_minutes),
        )
        return outbox.finish(
            engine, row, owner=self.owner, result=result, now=now, policy=WEBHOOK_RETRY
        )

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
