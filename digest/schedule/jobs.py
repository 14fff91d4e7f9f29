"""The jobs: each wires the stages in their one direction, store → compose → render → outbox →
delivery. The command line and the scheduler call these; nothing below them calls back up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

import jinja2

from digest import outbox
from digest.compose import (
    IsoWeek,
    compose_company_digests,
    compose_weekly_digest,
    wants_company_digest,
    wants_weekly,
    weekly_variant,
)
from digest.delivery.email import EmailAdapter, OutgoingEmail, email_adapter
from digest.delivery.results import DeliveryResult, DeliveryStatus
from digest.delivery.social import SocialAdapter, social_adapters
from digest.errors import DeliveryError
from digest.links import archive_url, preferences_url, unsubscribe_url
from digest.models import (
    Delivery,
    DeliveryChannel,
    DeliveryState,
    Digest,
    DigestKind,
    Subscriber,
    SubscriberStatus,
)
from digest.render.email import CompiledEmail, EmailRenderer, Recipient
from digest.render.message import build_message
from digest.render.social import PLATFORMS, SocialPost, compose_digest_posts
from digest.render.templates import template_environment
from digest.settings import Settings
from digest.store import Store

log = logging.getLogger("digest")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """What every job needs, built once per process."""

    settings: Settings
    store: Store
    env: jinja2.Environment
    clock: Clock = utc_now

    @classmethod
    def open(cls, settings: Settings, *, database_url: str | None = None) -> Context:
        override = settings.resolve(settings.site.templates) if settings.site.templates else None
        return cls(
            settings=settings,
            store=Store.open(database_url or settings.database_url()),
            env=template_environment(override),
        )

    def close(self) -> None:
        self.store.close()


# Compose -------------------------------------------------------------------------------------


def latest_week(ctx: Context) -> IsoWeek | None:
    """The ISO week of the newest stored item, in the site's time zone."""
    latest = ctx.store.latest_published_at()
    return IsoWeek.containing(latest, ctx.settings.site.zone) if latest else None


def last_complete_week(ctx: Context) -> IsoWeek:
    """The week before the one the clock is in: what a Monday-morning run sends."""
    return IsoWeek.containing(ctx.clock(), ctx.settings.site.zone).previous()


def compose_weekly(ctx: Context, week: IsoWeek) -> Digest:
    zone = ctx.settings.site.zone
    start, end = week.window(zone)
    items = ctx.store.items_between(start, end)
    reads = ctx.store.reads_for([item.id for item in items])
    return compose_weekly_digest(
        week, zone, items, reads, ctx.store.companies(), top=ctx.settings.digests.weekly.top
    )


def compose_companies(ctx: Context, week: IsoWeek, slug: str | None = None) -> list[Digest]:
    options = ctx.settings.digests.company
    zone = ctx.settings.site.zone
    start, end = week.window(zone)
    items = ctx.store.items_between(start - timedelta(days=options.lookback_days), end)
    reads = ctx.store.reads_for([item.id for item in items])
    companies = ctx.store.companies()
    if slug is not None:
        companies_in_scope = {slug: companies[slug]} if slug in companies else {}
    else:
        companies_in_scope = companies
    digests = compose_company_digests(
        week, zone, items, reads, companies, connections=options.connections
    )
    return [
        digest for digest in digests if digest.company and digest.company.slug in companies_in_scope
    ]


# Render --------------------------------------------------------------------------------------


def email_renderer(ctx: Context) -> EmailRenderer:
    return EmailRenderer(ctx.env, ctx.settings.site)


def recipient_for(ctx: Context, subscriber: Subscriber, digest_key: str) -> Recipient:
    site = ctx.settings.site
    companies = ctx.store.companies()
    return Recipient(
        email=subscriber.email,
        name=subscriber.name,
        format=subscriber.preferences.format,
        followed=tuple(
            companies[slug].name for slug in subscriber.preferences.companies if slug in companies
        ),
        preferences_url=preferences_url(site, subscriber.id),
        unsubscribe_url=unsubscribe_url(site, subscriber.id),
        archive_url=archive_url(site, digest_key),
    )


def message_id(ctx: Context, idempotency_key: str) -> str:
    """Stable per outbox row, so that a resend carries the same Message-ID."""
    domain = parseaddr(ctx.settings.site.from_address)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True, slots=True)
class Preview:
    digest_key: str
    html: Path
    text: Path
    html_size: int
    warnings: tuple[str, ...]


def write_previews(ctx: Context, digests: Iterable[Digest], directory: Path) -> list[Preview]:
    """Each digest's HTML (no personal data) and text part, as an editor would look at them."""
    renderer = email_renderer(ctx)
    directory.mkdir(parents=True, exist_ok=True)
    previews = []
    for digest in digests:
        name = digest.key.replace(":", "-")
        compiled = renderer.compile(digest)
        html_path, text_path = directory / f"{name}.html", directory / f"{name}.txt"
        html_path.write_text(renderer.preview_html(digest), encoding="utf-8")
        sample = Recipient(
            email="reader@example.com",
            name="Reader",
            format="text",
            followed=(),
            preferences_url=f"{ctx.settings.site.base_url.rstrip('/')}/preferences",
            unsubscribe_url=f"{ctx.settings.site.base_url.rstrip('/')}/unsubscribe",
            archive_url=archive_url(ctx.settings.site, digest.key),
        )
        text_path.write_text(compiled.personalise(sample).text, encoding="utf-8")
        for warning in compiled.warnings:
            log.warning("%s: %s", digest.key, warning)
        previews.append(
            Preview(digest.key, html_path, text_path, compiled.html_size, compiled.warnings)
        )
    return previews


# Outbox: planning ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanReport:
    digest_key: str
    channel: DeliveryChannel
    recipients: int  # rows this digest should have
    new: int  # rows added by this call (0 when it was planned before)


def email_audience(ctx: Context, digest: Digest) -> list[Subscriber]:
    active = ctx.store.subscribers([SubscriberStatus.ACTIVE])
    if digest.kind is DigestKind.WEEKLY:
        return [subscriber for subscriber in active if wants_weekly(subscriber)]
    assert digest.company is not None
    return [s for s in active if wants_company_digest(s, digest.company.slug)]


def email_key(digest_key: str, subscriber_id: str) -> str:
    return f"{digest_key}/email/{subscriber_id}"


def plan_email(ctx: Context, digest: Digest, *, dry_run: bool = False) -> PlanReport:
    """One row per subscriber who wants this digest; the first snapshot of a digest is the one
    that is delivered, so a re-run never sends a different version of it."""
    audience = email_audience(ctx, digest)
    rows = [
        outbox.PlannedDelivery(
            idempotency_key=email_key(digest.key, subscriber.id),
            digest_key=digest.key,
            channel=DeliveryChannel.EMAIL,
            target=subscriber.id,
            payload={},
        )
        for subscriber in audience
    ]
    if dry_run:
        return PlanReport(digest.key, DeliveryChannel.EMAIL, len(rows), 0)
    ctx.store.save_digest(digest)
    new = outbox.plan(ctx.store.engine, rows, now=ctx.clock())
    return PlanReport(digest.key, DeliveryChannel.EMAIL, len(rows), new)


def compose_posts(
    ctx: Context, digest: Digest, platform: str | None = None
) -> list[tuple[str, SocialPost]]:
    """(channel name, post) for every configured channel (or one platform's) and entry."""
    posts = []
    for channel in ctx.settings.social:
        adapter_platform = channel.platform or channel.type
        if platform is not None and adapter_platform != platform:
            continue
        rules = PLATFORMS[adapter_platform]
        posts.extend((channel.name, post) for post in compose_digest_posts(digest, rules, ctx.env))
    return posts


def plan_social(ctx: Context, digest: Digest, *, platform: str | None = None) -> PlanReport:
    ctx.store.save_digest(digest)
    rows = [
        outbox.PlannedDelivery(
            idempotency_key=f"{digest.key}/social/{channel}/{post.key}",
            digest_key=digest.key,
            channel=DeliveryChannel.SOCIAL,
            target=channel,
            payload=asdict(post),
        )
        for channel, post in compose_posts(ctx, digest, platform)
    ]
    new = outbox.plan(ctx.store.engine, rows, now=ctx.clock())
    return PlanReport(digest.key, DeliveryChannel.SOCIAL, len(rows), new)


# Outbox: delivering --------------------------------------------------------------------------


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
    """Claims due rows and hands each to its adapter; one per worker process."""

    def __init__(self, ctx: Context, *, owner: str | None = None, batch: int = 100) -> None:
        self.ctx = ctx
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.lease = timedelta(minutes=5)
        self.renderer = email_renderer(ctx)
        self._email: EmailAdapter | None = None
        self._social: dict[str, SocialAdapter] | None = None
        self._digests: dict[str, Digest] = {}
        self._compiled: dict[tuple[str, tuple[str, ...]], CompiledEmail] = {}

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
        now = self.ctx.clock()
        engine = self.ctx.store.engine
        if row.channel is DeliveryChannel.EMAIL:
            subscriber = self.ctx.store.subscriber(row.target)
            # Checked now, not only when planned: whoever left since must get nothing.
            if subscriber is None or subscriber.status is not SubscriberStatus.ACTIVE:
                status = subscriber.status.value if subscriber else "forgotten"
                outbox.skip(engine, row, owner=self.owner, reason=f"subscriber {status}", now=now)
                return DeliveryState.SKIPPED
            compiled = self._compiled_for(row.digest_key, subscriber)
            if compiled is None:
                outbox.skip(
                    engine, row, owner=self.owner, reason="nothing in their topics", now=now
                )
                return DeliveryState.SKIPPED
            result = self._send_email(row, subscriber, compiled, now)
        else:
            result = self._post(row)
        return outbox.finish(engine, row, owner=self.owner, result=result, now=self.ctx.clock())

    def _digest(self, key: str) -> Digest:
        if key not in self._digests:
            digest = self.ctx.store.load_digest(key)
            if digest is None:
                raise LookupError(f"outbox row names digest {key!r}, which is not stored")
            self._digests[key] = digest
        return self._digests[key]

    def _compiled_for(self, digest_key: str, subscriber: Subscriber) -> CompiledEmail | None:
        """This subscriber's variant, compiled once per variant, never once per person."""
        digest = self._digest(digest_key)
        topics = subscriber.preferences.topics if digest.kind is DigestKind.WEEKLY else ()
        variant_key = (digest_key, tuple(sorted(topics)))
        if variant_key not in self._compiled:
            variant = weekly_variant(digest, topics)
            if not variant.entries:
                return None
            self._compiled[variant_key] = self.renderer.compile(variant)
        return self._compiled[variant_key]

    def _send_email(
        self, row: Delivery, subscriber: Subscriber, compiled: CompiledEmail, now: datetime
    ) -> DeliveryResult:
        site = self.ctx.settings.site
        recipient = recipient_for(self.ctx, subscriber, row.digest_key)
        identifier = message_id(self.ctx, row.idempotency_key)
        data = build_message(
            compiled.personalise(recipient),
            from_address=site.from_address,
            to_name=subscriber.name,
            to_address=subscriber.email,
            message_id=identifier,
            date=now,
            list_id=site.list_id,
            list_name=site.name,
            unsubscribe_url=recipient.unsubscribe_url,
            unsubscribe_mailto=site.unsubscribe_mailto,
        )
        if self._email is None:
            self._email = email_adapter(self.ctx.settings)
        message = OutgoingEmail(
            key=row.idempotency_key,
            message_id=identifier,
            sender=parseaddr(site.from_address)[1],
            recipient=subscriber.email,
            data=data,
        )
        return _guarded(lambda: self._email.send(message))  # type: ignore[union-attr]

    def _post(self, row: Delivery) -> DeliveryResult:
        if self._social is None:
            self._social = social_adapters(self.ctx.settings)
        adapter = self._social.get(row.target)
        if adapter is None:
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"no social channel named {row.target!r} in settings.yaml any more",
            )
        post = SocialPost(**{**row.payload, "hashtags": tuple(row.payload["hashtags"])})  # type: ignore[arg-type]
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


# Scheduled jobs ------------------------------------------------------------------------------


def send_digests(ctx: Context, digests: Sequence[Digest]) -> DeliveryReport:
    for digest in digests:
        plan_email(ctx, digest)
        if digest.kind is DigestKind.WEEKLY:
            plan_social(ctx, digest)
    return deliver_due(ctx)


def weekly_job(ctx: Context) -> DeliveryReport:
    """Monday's weekly digest: the week that just ended."""
    return send_digests(ctx, [compose_weekly(ctx, last_complete_week(ctx))])


def company_job(ctx: Context) -> DeliveryReport:
    """Monday's per-company digests: every company with news in the week that just ended."""
    return send_digests(ctx, compose_companies(ctx, last_complete_week(ctx)))
