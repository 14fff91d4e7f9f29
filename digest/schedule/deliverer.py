"""The deliverer: claims due outbox rows and hands each to its adapter; one per worker process."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from digest import outbox
from digest.context import Context
from digest.delivery.email import EmailAdapter, email_adapter
from digest.delivery.social import SocialAdapter, social_adapters
from digest.errors import DeliveryError
from digest.models import (
    Delivery,
    DeliveryChannel,
    DeliveryResult,
    DeliveryState,
    DeliveryStatus,
)
from digest.render.social import SocialPost
from digest.schedule.messages import MessageBuilder, Skip


@dataclass
class DeliveryReport:
    states: dict[str, int] = field(default_factory=dict)

    def count(self, state: DeliveryState) -> None:
        self.states[state.value] = self.states.get(state.value, 0) + 1

    @property
    def failed(self) -> int:
        return self.states.get(DeliveryState.FAILED.value, 0) + self.states.get(
            DeliveryState.UNKNOWN.value, 0
        )

    @property
    def total(self) -> int:
        return sum(self.states.values())


class Deliverer:
    def __init__(self, ctx: Context, *, owner: str | None = None, batch: int = 100) -> None:
        self.ctx = ctx
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.lease = timedelta(minutes=5)
        self.messages = MessageBuilder(ctx)
        self._email: EmailAdapter | None = None
        self._social: dict[str, SocialAdapter] | None = None

    def run(self, on_row: Callable[[DeliveryState], None] | None = None) -> DeliveryReport:
        """Deliver until no row is due; rows waiting for a retry later are left for later runs."""
        report = DeliveryReport()
        try:
            while rows := outbox.claim(
                self.ctx.store.engine,
                owner=self.owner,
                limit=self.batch,
                lease=self.lease,
                now=self.ctx.clock(),
            ):
                for row in rows:
                    state = self.deliver(row)
                    report.count(state)
                    if on_row:
                        on_row(state)
        finally:
            self.close()
        return report

    def deliver(self, row: Delivery) -> DeliveryState:
        engine = self.ctx.store.engine
        if row.channel is DeliveryChannel.EMAIL:
            message = self.messages.build(row, self.ctx.clock())
            if isinstance(message, Skip):
                now = self.ctx.clock()
                outbox.skip(engine, row, owner=self.owner, reason=message.reason, now=now)
                return DeliveryState.SKIPPED
            if self._email is None:
                self._email = email_adapter(self.ctx.settings)
            adapter = self._email
            result = _guarded(lambda: adapter.send(message))
        else:
            result = self._post(row)
        return outbox.finish(engine, row, owner=self.owner, result=result, now=self.ctx.clock())

    def _post(self, row: Delivery) -> DeliveryResult:
        if self._social is None:
            self._social = social_adapters(self.ctx.settings)
        adapter = self._social.get(row.target)
        if adapter is None:
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"no social channel named {row.target!r} in settings.yaml any more",
            )
        payload = dict(row.payload)
        post = SocialPost(**{**payload, "hashtags": tuple(payload["hashtags"])})  # type: ignore[arg-type]
        return _guarded(lambda: adapter.post(post, row.idempotency_key))

    def close(self) -> None:
        if self._email is not None:
            self._email.close()
        for adapter in (self._social or {}).values():
            adapter.close()


def _guarded(call: Callable[[], DeliveryResult]) -> DeliveryResult:
    """An adapter's exception becomes a result, so one bad row never stops the run."""
    try:
        return call()
    except DeliveryError as error:
        return DeliveryResult(DeliveryStatus(error.status), response=error.response or str(error))
    except OSError as error:
        return DeliveryResult(DeliveryStatus.FAILED, response=str(error), transient=True)


def deliver_due(
    ctx: Context, on_row: Callable[[DeliveryState], None] | None = None
) -> DeliveryReport:
    return Deliverer(ctx).run(on_row)


def pending(ctx: Context) -> int:
    counts = outbox.state_counts(ctx.store.engine)
    return counts.get(DeliveryState.PLANNED.value, 0) + counts.get(DeliveryState.CLAIMED.value, 0)
