"""The deliverer: claims due outbox rows and hands each to its adapter; one per worker process."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from digest import outbox
from digest.context import Context
from digest.delivery.email import EmailAdapter, email_adapter, email_adapter_types
from digest.delivery.social import SocialAdapter, social_adapters
from digest.delivery.social.base import UNKNOWN_OUTCOME, Attempt, Reply
from digest.errors import DeliveryError
from digest.models import (
    Delivery,
    DeliveryChannel,
    DeliveryResult,
    DeliveryState,
    DeliveryStatus,
)
from digest.outbox import DeliveryReport, OnRow, social_key
from digest.outbox.rate import RateLimiter
from digest.render.social import Platform, SocialPost
from digest.schedule.cards import card_lookup
from digest.schedule.messages import MessageBuilder
from digest.schedule.sending import EmailRun
from digest.schedule.webhooks import WebhookDeliverer
from digest.store.channel_tokens import StoredTokens

log = logging.getLogger("digest")

_NOT_EMAIL = tuple(channel for channel in DeliveryChannel if channel is not DeliveryChannel.EMAIL)
_THREAD_WAIT = 10.0  # seconds before a thread's next part looks again for the previous one
CHANNEL_PAUSE = 300.0  # seconds a paused channel's posts wait: `digest worker`'s default pause


class Deliverer:
    """Claims due rows in batches and delivers them; one per worker process.

    Email rows go through `EmailRun` (schedule/sending.py): the adapter's connections send while
    the answers are recorded. Sends are paced by the rate limits, and the run pauses, saying
    why, after `email.max_consecutive_failures` failures in a row: the rows it had claimed but
    not tried go back to the outbox untouched. An email
    whose outcome is unknown is sent again after `email.unknown_outcome.delay_seconds`, then
    held (`digest held`).
    """

    def __init__(
        self,
        ctx: Context,
        *,
        owner: str | None = None,
        batch: int | None = None,
        stop: threading.Event | None = None,
        due_by: datetime | None = None,
    ) -> None:
        self.ctx = ctx
        self.due_by = due_by  # deliver rows due by then, ahead of their time (the demo)
        email = ctx.settings.email
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch or email.batch
        self.lease = timedelta(seconds=email.lease_seconds)
        self.max_failures = email.max_consecutive_failures
        self.stop = stop or threading.Event()
        self.messages = MessageBuilder(ctx)
        self._email: EmailAdapter | None = None
        self._limiter: RateLimiter | None = None
        self._social: dict[str, SocialAdapter] | None = None
        self.webhooks = WebhookDeliverer(ctx, owner=self.owner)
        unknown = email.unknown_outcome
        self.unknown = outbox.UnknownPolicy(retries=unknown.retries, delay=unknown.delay_seconds)
        self._failures_in_a_row = 0
        self._post_failures_in_a_row: dict[str, int] = {}  # by social channel

    @property
    def email(self) -> EmailAdapter:
        if self._email is None:
            self._email = email_adapter(self.ctx.settings)
        return self._email

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            rate = self.ctx.settings.email.rate
            # The class's declared limits: no need to build (and configure) the adapter itself.
            adapter = email_adapter_types().get(self.ctx.settings.email.type, EmailAdapter)
            self._limiter = RateLimiter.combined(
                rate.per_second, rate.per_hour, adapter.max_per_second, adapter.max_per_hour
            )
        return self._limiter

    def run(self, on_row: OnRow | None = None) -> DeliveryReport:
        """Deliver until no row is due; rows waiting for a retry later are left for later runs."""
        report = DeliveryReport()
        engine = self.ctx.store.engine
        try:
            while not self.stop.is_set() and report.paused is None:
                self.webhooks.fan_out()  # the events of what changed, for their endpoints
                # The other channels' rows first: a few posts never wait behind many emails.
                rows = outbox.claim(
                    engine,
                    owner=self.owner,
                    limit=self.batch,
                    lease=self.lease,
                    now=self.ctx.clock(),
                    channels=_NOT_EMAIL,
                    due_by=self.due_by,
                )
                for row in rows:
                    if row.channel is DeliveryChannel.WEBHOOK:
                        report.count([self.webhooks.deliver(row)], on_row)
                    else:
                        report.count([self._deliver_social(row, report)], on_row)
                emailed = EmailRun(self, report, on_row).run()
                if rows or emailed:
                    continue
                # A claim may itself end rows (a dead worker's last attempt): their events go
                # out in this run too, not only when something else falls due.
                if self.webhooks.fan_out():
                    continue
                if self.claim_limit() or not outbox.due(engine, self.ctx.clock()):
                    break
                # Email's hourly limit reached: the other channels' rows still go.
                log.info("the per-hour email limit is reached; waiting for the hour to pass")
                self.stop.wait(30)
        finally:
            self.close()
        return report

    def claim_limit(self) -> int:
        """How many email rows the next claim may take: the batch, within the rate limits."""
        limit = self.batch
        if self.limiter.per_second:
            # A batch must be sent well within its lease, at the pace the limit allows.
            paced = int(self.limiter.per_second * self.lease.total_seconds() / 2)
            limit = max(1, min(limit, paced))
        return self.limiter.hourly_allowance(
            self.ctx.store.engine, DeliveryChannel.EMAIL, self.ctx.clock(), limit
        )

    def note(self, result: DeliveryResult, report: DeliveryReport) -> None:
        """Count failures in a row; a rejected address is that address's fault, not the run's."""
        if result.status in (DeliveryStatus.SENT, DeliveryStatus.QUEUED):
            self._failures_in_a_row = 0
        elif result.status in (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN):
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.max_failures and report.paused is None:
                report.paused = (
                    f"paused after {self._failures_in_a_row} email failures in a row "
                    f"(email.max_consecutive_failures); the last: {result.response}. "
                    "Fix the cause, then run `digest worker` to deliver the rest"
                )

    def _deliver_social(self, row: Delivery, report: DeliveryReport) -> DeliveryState:
        engine = self.ctx.store.engine
        paused = report.paused_channels.get(row.target)
        if paused is not None:
            # Not an attempt: the row waits for a later run, as a paused email run's rows do.
            outbox.postpone(
                engine,
                row,
                owner=self.owner,
                seconds=CHANNEL_PAUSE,
                reason=paused,
                now=self.ctx.clock(),
            )
            return DeliveryState.PLANNED
        posted = self._post(row)
        if isinstance(posted, DeliveryState):
            return posted  # `_post` closed or put back the row itself
        self._note_post(row.target, posted, report)
        now = self.ctx.clock()
        return outbox.finish(engine, row, owner=self.owner, result=posted, now=now)

    def _note_post(self, channel: str, result: DeliveryResult, report: DeliveryReport) -> None:
        """Count a channel's failures in a row (`_note` for email); at its
        `max_consecutive_failures` the channel pauses for the rest of the run, saying why."""
        if result.status in (DeliveryStatus.SENT, DeliveryStatus.QUEUED):
            self._post_failures_in_a_row[channel] = 0
            return
        if result.status not in (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN):
            return  # a refusal of one post says nothing of the channel
        failures = self._post_failures_in_a_row.get(channel, 0) + 1
        self._post_failures_in_a_row[channel] = failures
        limit = next(
            (c.max_consecutive_failures for c in self.ctx.settings.social if c.name == channel), 1
        )
        if failures >= limit and channel not in report.paused_channels:
            report.paused_channels[channel] = (
                f"channel {channel} paused after {failures} failures in a row "
                f"(social max_consecutive_failures); the last: {result.response}. Its posts "
                f"wait; fix the cause, then run `digest worker` to post them"
            )

    def _post(self, row: Delivery) -> DeliveryResult | DeliveryState:
        """Post one (post, channel) row. On a platform without idempotency keys the attempt is
        written on the row before the call; a row whose last attempt's outcome is unknown is
        checked on the platform by the adapter (`finds_posts`) or held for an editor, never
        posted blindly a second time."""
        if self._social is None:
            tokens = StoredTokens(self.ctx.store.engine, self.ctx.clock)
            self._social = social_adapters(
                self.ctx.settings, clock=self.ctx.clock, tokens=tokens, cards=card_lookup(self.ctx)
            )
        adapter = self._social.get(row.target)
        if adapter is None:
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"no social channel named {row.target!r} in settings.yaml any more",
            )
        engine, now = self.ctx.store.engine, self.ctx.clock()
        post = SocialPost.from_dict(row.payload)
        reply = None
        if post.reply_to:
            reply = self._reply_to(row, post)
            if reply is None:
                broken = self._broken_thread(row, post)
                if broken is not None:
                    return DeliveryResult(DeliveryStatus.FAILED, response=broken)
                # Not an attempt: the row waits, however long the previous post takes.
                reason = "waiting for the thread's previous post to be sent"
                outbox.postpone(
                    engine, row, owner=self.owner, seconds=_THREAD_WAIT, reason=reason, now=now
                )
                return DeliveryState.PLANNED
        after_unknown = (row.last_error or "").startswith(UNKNOWN_OUTCOME)
        if after_unknown and not (adapter.idempotent or adapter.finds_posts):
            reason = (
                f"held for an editor: {row.last_error}. Look on {row.target} for this post; "
                "then release the row as sent (with the post's id) or as not posted"
            )
            outbox.hold(engine, row, owner=self.owner, reason=reason, now=now)
            return DeliveryState.HELD
        if not adapter.idempotent:
            note = f"{UNKNOWN_OUTCOME}: posting to {row.target} began at {now.isoformat()}"
            outbox.note_attempt(engine, row, owner=self.owner, note=note, now=now)
        attempt = Attempt(
            number=row.attempts, after_unknown=after_unknown, scheduled_for=row.available_at
        )
        try:
            return _guarded(
                lambda: adapter.post(post, row.idempotency_key, reply=reply, attempt=attempt)
            )
        except (KeyError, TypeError, ValueError) as error:
            # An answer we could not read: the post may be up. Checked or held next time.
            message = adapter.mask(f"unexpected answer from {row.target}: {error!r}")
            return adapter.unknown(message)

    def _reply_to(self, row: Delivery, post: SocialPost) -> Reply | None:
        """The platform ids of the thread's first post and of the previous one, once both are
        sent (rows go out in order, so that is normally at once)."""
        assert post.reply_to is not None
        root = social_key(row.digest_key, row.target, post.thread_root or post.reply_to)
        parent = social_key(row.digest_key, row.target, post.reply_to)
        ids = outbox.provider_ids(self.ctx.store.engine, {root, parent})
        if root not in ids or parent not in ids:
            return None
        return Reply(root=ids[root], parent=ids[parent])

    def _broken_thread(self, row: Delivery, post: SocialPost) -> str | None:
        """Why this part can never follow the earlier ones (one of them ended unsent), if so."""
        assert post.reply_to is not None
        earlier = {
            social_key(row.digest_key, row.target, key)
            for key in (post.thread_root or post.reply_to, post.reply_to)
        }
        for key, state in outbox.states_of(self.ctx.store.engine, earlier).items():
            if state in (DeliveryState.FAILED, DeliveryState.SKIPPED):
                return (
                    f"the thread's previous post {key} was not posted ({state.value}); "
                    "this part cannot follow it"
                )
        return None

    def close(self) -> None:
        if self._email is not None:
            self._email.close()
        for adapter in (self._social or {}).values():
            adapter.close()
        self.webhooks.close()


def _guarded(call: Callable[[], DeliveryResult]) -> DeliveryResult:
    """An adapter's exception becomes a result, so one bad row never stops the run."""
    try:
        return call()
    except DeliveryError as error:
        return DeliveryResult(DeliveryStatus(error.status), response=error.response or str(error))
    except OSError as error:
        return DeliveryResult(DeliveryStatus.FAILED, response=str(error), transient=True)


def social_rules(ctx: Context) -> dict[str, Platform]:
    """Each social channel's rules as its service states them now (a Mastodon server's own
    limit), for composing; read once per call, the adapters closed again."""
    adapters = social_adapters(ctx.settings)
    try:
        return {name: adapter.rules() for name, adapter in adapters.items()}
    finally:
        for adapter in adapters.values():
            adapter.close()


def deliver_due(
    ctx: Context,
    on_row: OnRow | None = None,
    *,
    stop: threading.Event | None = None,
    due_by: datetime | None = None,
) -> DeliveryReport:
    return Deliverer(ctx, stop=stop, due_by=due_by).run(on_row)


def pending(ctx: Context) -> int:
    counts = outbox.state_counts(ctx.store.engine)
    return counts.get(DeliveryState.PLANNED.value, 0) + counts.get(DeliveryState.CLAIMED.value, 0)
