"""The jobs: each wires the stages in their one direction, store → compose → render → outbox →
delivery. The command line and the scheduler call these; nothing below them calls back up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from digest import outbox
from digest.compose import (
    IsoWeek,
    compose_company_digests,
    compose_weekly_digest,
    wants_company_digest,
    wants_weekly,
)
from digest.context import Context
from digest.links import archive_url
from digest.models import DeliveryChannel, Digest, DigestKind, Subscriber, SubscriberStatus
from digest.render.email import EmailRenderer, Recipient
from digest.render.social import PLATFORMS, SocialPost, compose_digest_posts
from digest.schedule.deliverer import DeliveryReport, deliver_due

log = logging.getLogger("digest")

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


@dataclass(frozen=True, slots=True)
class Preview:
    digest_key: str
    html: Path
    text: Path
    html_size: int
    warnings: tuple[str, ...]


def write_previews(ctx: Context, digests: Iterable[Digest], directory: Path) -> list[Preview]:
    """Each digest's HTML (no personal data) and text part, as an editor would look at them."""
    renderer = EmailRenderer(ctx.env, ctx.settings.site)
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
