"""The jobs: each wires the stages in their one direction, store → compose → render → outbox →
delivery. The command line and the scheduler call these; nothing below them calls back up.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from digest import outbox
from digest.compose import (
    NOTHING_FOR_THEM,
    ChangeSet,
    Edited,
    IsoWeek,
    Variants,
    compose_company_digest,
    compose_company_digests,
    compose_weekly_digest,
    edit_digest,
    receives,
)
from digest.context import Context
from digest.engagement import TrackedLinks
from digest.errors import ConfigError, Problem
from digest.links import archive_url
from digest.models import (
    DeliveryChannel,
    Digest,
    DigestKind,
    NewsItem,
    Subscriber,
    SubscriberStatus,
)
from digest.outbox import DeliveryReport, email_key, slots, social_key
from digest.render.email import EmailRenderer
from digest.render.links import Campaign, LinkWriter
from digest.render.social import (
    PLATFORMS,
    Platform,
    PostOptions,
    SocialPost,
    compose_company_post,
    compose_digest_posts,
    compose_weekly_posts,
)
from digest.schedule.cards import store_post_cards, with_pictures
from digest.schedule.messages import tracked_links
from digest.settings import Settings, SocialChannelSettings
from digest.store import edits as store_edits
from digest.store.codec import content_hash
from digest.store.engagement import purge_events
from digest.store.events import Event
from digest.store.store import ApprovalStatus, DigestSummary

log = logging.getLogger("digest")

# Compose -------------------------------------------------------------------------------------


def latest_week(ctx: Context) -> IsoWeek | None:
    """The ISO week of the newest stored item, in the site's time zone."""
    latest = ctx.store.latest_published_at()
    return IsoWeek.containing(latest, ctx.settings.site.zone) if latest else None


def next_run_week(ctx: Context) -> IsoWeek:
    """The week the next scheduled weekly run will send: the one before the week it fires in."""
    zone = ctx.settings.site.zone
    trigger = CronTrigger.from_crontab(ctx.settings.schedules.weekly.cron, timezone=zone)
    fire: datetime | None = trigger.get_next_fire_time(None, ctx.clock())
    return IsoWeek.containing(fire, zone).previous() if fire else last_complete_week(ctx)


def last_complete_week(ctx: Context) -> IsoWeek:
    """The week before the one the clock is in: what a Monday-morning run sends."""
    return IsoWeek.containing(ctx.clock(), ctx.settings.site.zone).previous()


def changes_for(ctx: Context, keys: Sequence[str]) -> dict[str, ChangeSet]:
    """The editors' change sets of those digests that have one."""
    found = store_edits.load_changes(ctx.store.engine, keys)
    return {key: ChangeSet.from_dict(data) for key, data in found.items()}


def compose_weekly_edited(ctx: Context, week: IsoWeek, changes: ChangeSet | None = None) -> Edited:
    """The weekly digest of `week` composed from the store, with the editors' changes (or
    `changes`) applied, and those that no longer apply."""
    zone = ctx.settings.site.zone
    start, end = week.window(zone)
    items = ctx.store.items_between(start, end)
    reads = ctx.store.reads_for([item.id for item in items])
    companies = ctx.store.companies()
    digest = compose_weekly_digest(
        week, zone, items, reads, companies, top=ctx.settings.digests.weekly.top
    )
    if changes is None:
        changes = changes_for(ctx, [digest.key]).get(digest.key, ChangeSet())
    return edit_digest(digest, changes, items, reads, companies)


def compose_weekly(ctx: Context, week: IsoWeek) -> Digest:
    return compose_weekly_edited(ctx, week).digest


def compose_companies_edited(
    ctx: Context,
    week: IsoWeek,
    slug: str | None = None,
    overrides: Mapping[str, ChangeSet] | None = None,
) -> list[Edited]:
    """Each company digest of `week` (or only `slug`'s), edited as `compose_weekly_edited`
    (`overrides`: change sets to apply instead of the stored ones)."""
    options = ctx.settings.digests.company
    zone = ctx.settings.site.zone
    start, end = week.window(zone)
    companies = ctx.store.companies()
    if slug is not None:
        key = f"company:{slug}:{week}"
        wanted = (
            overrides[key]
            if overrides is not None and key in overrides
            else changes_for(ctx, [key]).get(key, ChangeSet())
        )
        items = one_company_items(ctx, week, slug, wanted)
        reads = ctx.store.reads_for([item.id for item in items])
        one = companies.get(slug)
        found = one and compose_company_digest(
            one, week, zone, items, reads, companies, connections=options.connections
        )
        digests = [found] if found else []
    else:
        items = ctx.store.items_between(start - timedelta(days=options.lookback_days), end)
        reads = ctx.store.reads_for([item.id for item in items])
        digests = list(
            compose_company_digests(
                week, zone, items, reads, companies, connections=options.connections
            )
        )
    changes = {**changes_for(ctx, [digest.key for digest in digests]), **(overrides or {})}
    return [
        edit_digest(
            digest,
            changes.get(digest.key, ChangeSet()),
            items,
            reads,
            companies,
            connections=options.connections,
        )
        for digest in digests
    ]


def one_company_items(ctx: Context, week: IsoWeek, slug: str, changes: ChangeSet) -> list[NewsItem]:
    """The items one company's digest of `week` is composed from: the week's, and of the
    look-back only what its timelines can list (enough for each company and topic they follow
    to skip every item of the email and every item an earlier entry listed), so that an editor's
    page never reads the whole look-back; composed from them, the digest is the one composed
    from the whole look-back (tests/test_compose_seed_story.py compares them)."""
    options = ctx.settings.digests.company
    zone = ctx.settings.site.zone
    start, end = week.window(zone)
    week_items = ctx.store.items_between(start, end)
    added = set(changes.additions)
    entries = [item for item in week_items if slug in item.companies or item.id in added]
    if not entries or not options.connections:
        return week_items
    owners = {
        item.id: slug if slug in item.companies else next(iter(item.companies), None)
        for item in entries
    }
    count = options.connections * (2 * len(entries) + 1) + len(entries) + len(changes.drops)
    candidates = ctx.store.timeline_candidates(
        start - timedelta(days=options.lookback_days),
        end,
        companies={owner for owner in owners.values() if owner is not None},
        topics={(item.topics[0], owners[item.id]) for item in entries if item.topics},
        count=count,
        zone=zone,
    )
    return list({item.id: item for item in [*week_items, *candidates]}.values())


def compose_companies(ctx: Context, week: IsoWeek, slug: str | None = None) -> list[Digest]:
    return [edited.digest for edited in compose_companies_edited(ctx, week, slug)]


_DIGEST_KEY = re.compile(
    r"^(?:weekly|company:(?P<slug>[a-z0-9][a-z0-9-]*)):(?P<week>\d{4}-W\d{2})$"
)


def compose_key(ctx: Context, key: str, changes: ChangeSet | None = None) -> Edited | None:
    """The digest named `key` composed now from the store and edited (with `changes` instead of
    the stored change set, when given); None for a key that names no digest with news."""
    match = _DIGEST_KEY.match(key)
    if match is None:
        return None
    try:
        week = IsoWeek.parse(match["week"])
    except ValueError:
        return None
    if match["slug"] is None:
        edited = compose_weekly_edited(ctx, week, changes)
        return edited if edited.digest.entries else None
    overrides = {key: changes} if changes is not None else None
    found = compose_companies_edited(ctx, week, match["slug"], overrides)
    return found[0] if found else None


def save_edit(
    ctx: Context,
    key: str,
    changes: ChangeSet,
    *,
    actor: str,
    action: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> store_edits.EditSaved | None:
    """Store an editor's change set for `key`, with its audit entry; a stored snapshot becomes
    the digest composed now with these changes, and an approval of it is withdrawn. None when
    the key names no digest. Raises store_edits.AlreadyPlanned once it has real rows."""
    edited = compose_key(ctx, key, changes)
    if edited is None:
        return None
    return store_edits.save_changes(
        ctx.store.engine,
        key,
        changes.to_dict(),
        edited.digest,
        at=ctx.clock(),
        actor=actor,
        action=action,
        before=before,
        after=after,
    )


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
    renderer = EmailRenderer(ctx.env, ctx.settings.site, ctx.settings.campaign)
    directory.mkdir(parents=True, exist_ok=True)
    previews = []
    for digest in digests:
        name = digest.key.replace(":", "-")
        # The subscribers' version (tracked links, if on): its size is what counts.
        compiled = renderer.compile(digest, links=tracked_links(ctx, digest, ctx.clock()))
        web = renderer.web_version(digest)
        html_path, text_path = directory / f"{name}.html", directory / f"{name}.txt"
        html_path.write_text(web.html or "", encoding="utf-8")
        text_path.write_text(web.text, encoding="utf-8")
        for warning in compiled.warnings:
            log.warning("%s: %s", digest.key, warning)
        previews.append(
            Preview(digest.key, html_path, text_path, compiled.html_size, compiled.warnings)
        )
    return previews


# Outbox: planning ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimedPost:
    channel: str
    post: SocialPost
    at: datetime | None  # its slot, in the channel's time zone; None: at once
    planned: bool  # its row exists already: `at` is the slot the row holds


@dataclass(frozen=True, slots=True)
class PlanReport:
    digest_key: str
    channel: DeliveryChannel
    recipients: int  # rows this digest should have
    new: int  # rows added by this call (0 when it was planned before)
    waiting: str | None = None  # why nothing was planned: held, or waiting for approval
    posts: tuple[TimedPost, ...] = ()  # a digest's posts, each with its slot
    # Emails: how many fall due in each hour of the site's clock (the instant it begins), at
    # each subscriber's hour after the release; `at_once`: all were planned due at the release.
    due_by_hour: tuple[tuple[datetime, int], ...] = ()
    at_once: bool = False
    # Subscribers it is not sent to though they want it, by why (a weekly with nothing for them).
    left_out: tuple[tuple[str, int], ...] = ()


def email_audience(ctx: Context, digest: Digest) -> list[Subscriber]:
    return list(iter_email_audience(ctx, digest))


def iter_email_audience(
    ctx: Context, digest: Digest, left_out: Counter[str] | None = None
) -> Iterator[Subscriber]:
    """The active subscribers who want this digest and for whom it has something (a weekly
    may have nothing in their topics or about the companies they follow), read a page at a
    time (a million fit). Those it has nothing for are counted in `left_out`, by why."""
    variants = Variants(digest)
    for subscriber in ctx.store.iter_subscribers([SubscriberStatus.ACTIVE]):
        if not receives(subscriber, digest):
            continue
        if has_nothing_for(variants, subscriber):
            if left_out is not None:
                left_out[NOTHING_FOR_THEM] += 1
            continue
        yield subscriber


def has_nothing_for(variants: Variants, subscriber: Subscriber) -> bool:
    """Whether a digest with news has none for them (their weekly variant is empty)."""
    return bool(variants.digest.entries) and not variants.of(subscriber).entries


def due_times(ctx: Context, release: datetime) -> outbox.DueTimes:
    """When each subscriber's email of a digest released at `release` falls due."""
    site = ctx.settings.site
    return outbox.DueTimes(release, site.zone, site.send_hour)


def forecast_due(
    ctx: Context, digest: Digest, release: datetime
) -> tuple[tuple[datetime, int], ...]:
    """How many of the digest's emails would fall due in each hour of the site's clock, were it
    released at `release` (the editor's view of a digest not planned yet)."""
    due = due_times(ctx, release)
    variants = Variants(digest)
    hours: Counter[datetime] = Counter()
    # Counted by groups of subscribers alike (`email_audience`'s rules, one stand-in a group):
    # reading a million subscribers for a page took half a minute.
    for alike, number in ctx.store.active_profiles():
        if receives(alike, digest) and not has_nothing_for(variants, alike):
            hours[due.at(alike.timezone, alike.preferences.send_hour)] += number
    return tuple(outbox.by_hour(hours.items(), ctx.settings.site.zone))


def plan_email(
    ctx: Context, digest: Digest, *, dry_run: bool = False, at_once: bool = False
) -> PlanReport:
    """One row per subscriber who wants this digest, due at their local hour after its release
    (now), or at once with `at_once`; the first snapshot of a digest is the one that is
    delivered, so a re-run never sends a different version of it."""
    counted = [0]
    release = ctx.clock()
    due = due_times(ctx, release)
    hours: Counter[datetime] = Counter()
    left_out: Counter[str] = Counter()

    def rows() -> Iterator[outbox.PlannedDelivery]:
        # A generator over the streamed audience: a million rows never sit in memory at once.
        left_out.clear()
        for subscriber in iter_email_audience(ctx, digest, left_out):
            counted[0] += 1
            their_hour = due.at(subscriber.timezone, subscriber.preferences.send_hour)
            hours[their_hour] += 1
            yield outbox.PlannedDelivery(
                idempotency_key=email_key(digest.key, subscriber.id),
                digest_key=digest.key,
                channel=DeliveryChannel.EMAIL,
                target=subscriber.id,
                payload={},
                available_at=release if at_once else their_hour,
            )

    def report(new: int, waiting: str | None = None) -> PlanReport:
        by_hour = outbox.by_hour(hours.items(), ctx.settings.site.zone)
        return PlanReport(
            digest.key,
            DeliveryChannel.EMAIL,
            counted[0],
            new,
            waiting,
            due_by_hour=tuple(by_hour),
            at_once=at_once,
            left_out=tuple(sorted(left_out.items())),
        )

    if dry_run:
        # Plan nothing, but say what a real run would: how many, how many are new, and when.
        keys = (row.idempotency_key for row in rows())
        new = outbox.count_unplanned(ctx.store.engine, keys)
        return report(new, not_released(ctx, digest))
    waiting = not_released(ctx, digest)
    if digest.entries:
        ctx.store.save_digest(digest)  # an empty digest is not worth keeping, nor archiving
    if waiting is not None:
        log.info("%s: no emails planned: %s", digest.key, waiting)
        deque(rows(), maxlen=0)  # counted, and when they would fall due
        return report(0, waiting)
    new = outbox.plan(ctx.store.engine, rows(), now=release, event=planned_event(ctx, digest))
    if at_once:  # rows planned before, still waiting for their hour, go now too
        outbox.due_now(ctx.store.engine, digest.key, DeliveryChannel.EMAIL, release)
    ctx.store.mark_digest_planned(digest.key, release)
    return report(new)


def planned_event(ctx: Context, digest: Digest) -> Event:
    """digest.planned, once per digest: written with its first emails."""
    data = {
        "key": digest.key,
        "kind": digest.kind.value,
        "title": digest.title,
        "window_start": digest.window_start.isoformat(),
        "window_end": digest.window_end.isoformat(),
        "archive_url": archive_url(ctx.settings.site, digest.key),
    }
    return Event("digest.planned", digest.key, data, key=f"digest.planned/{digest.key}")


def compose_posts(
    ctx: Context,
    digest: Digest,
    platform: str | None = None,
    *,
    rules: Mapping[str, Platform] | None = None,
) -> list[tuple[str, SocialPost]]:
    """(channel name, post) for every configured channel (or one platform's): a weekly digest's
    item posts and its "top stories" post or thread, or a company digest's post.

    `rules` are the channels' rules read at run time (a Mastodon server's own limit, see
    `deliverer.social_rules`); a channel not in it follows its platform's defaults.
    """
    link = archive_url(ctx.settings.site, digest.key)
    topics = ctx.settings.digests.topics.controlled(ctx.store.topics())
    posts: list[tuple[str, SocialPost]] = []
    for channel in ctx.settings.social:
        channel_platform = channel.platform or channel.type
        if platform is not None and channel_platform != platform:
            continue
        if channel_platform not in PLATFORMS:
            where = f"social[{ctx.settings.social.index(channel)}].platform"
            known = ", ".join(sorted(PLATFORMS))
            problem = Problem(ctx.settings.source, "", where, f"choose one of {known}")
            raise ConfigError([problem])
        channel_rules = (rules or {}).get(channel.name) or PLATFORMS[channel_platform]
        options = PostOptions.with_topics(topics, post_links(ctx, digest, channel))
        if digest.kind is DigestKind.WEEKLY:
            composed = [
                *compose_digest_posts(digest, channel_rules, ctx.env, options),
                *compose_weekly_posts(digest, channel_rules, ctx.env, url=link, options=options),
            ]
        else:
            composed = [
                compose_company_post(digest, channel_rules, ctx.env, url=link, options=options)
            ]
        posts.extend((channel.name, post) for post in with_pictures(digest, composed))
    return posts


THREAD_STEP = timedelta(minutes=1)  # between a thread's parts, within its slot


def post_times(
    ctx: Context, digest: Digest, posts: Sequence[tuple[str, SocialPost]]
) -> list[TimedPost]:
    """Each (channel, post) with its slot. A post planned before keeps the slot its row holds;
    the others take their channel's next free slots from now, in the order given (the digest's
    ranking), never one a post of another digest holds; a thread's parts follow their first
    part, in its slot. A channel without slots posts at once."""
    engine, now = ctx.store.engine, ctx.clock()
    planned = slots.planned_times(
        engine, [social_key(digest.key, channel, post.key) for channel, post in posts]
    )
    channels = {channel.name: channel for channel in ctx.settings.social}
    taken: dict[str, set[datetime]] = {}
    chosen: dict[tuple[str, str], datetime | None] = {}
    timed = []
    for channel, post in posts:
        key = social_key(digest.key, channel, post.key)
        settings = channels[channel]
        times = settings.posting_times()
        zone = settings.posting_zone(ctx.settings.site)
        if key in planned:
            at: datetime | None = planned[key]
        elif not times:
            at = None
        elif post.reply_to is not None:
            # Each part a minute after the previous one: a reply follows what it answers.
            previous = chosen.get((channel, post.reply_to))
            at = previous + THREAD_STEP if previous is not None else None
        else:
            if channel not in taken:
                taken[channel] = slots.slots_taken(engine, channel, now)
            (at,) = slots.free_slots(times, zone, now, 1, taken[channel])
            taken[channel].add(at)
        chosen[(channel, post.key)] = at
        local = at.astimezone(zone) if at is not None else None
        timed.append(TimedPost(channel, post, local, key in planned))
    return timed


def post_links(ctx: Context, digest: Digest, channel: SocialChannelSettings) -> LinkWriter:
    """What a channel's links become: tagged with the campaign when it carries one, through the
    tracked redirect when `tracking.social` is on (clicks counted per channel and per post)."""
    settings = ctx.settings
    platform = channel.platform or channel.type
    campaign = (
        Campaign(platform, settings.campaign.social_medium, digest.key)
        if settings.campaign.for_channel(channel)
        else None
    )
    tracked = (
        TrackedLinks.for_digest(
            settings.site, settings.tracking, digest.key, now=ctx.clock(), channel=channel.name
        )
        if settings.tracking.social
        else None
    )
    return LinkWriter(campaign, tracked)


def plan_social(
    ctx: Context,
    digest: Digest,
    *,
    platform: str | None = None,
    rules: Mapping[str, Platform] | None = None,
) -> PlanReport:
    """One row per (post, channel), each due at its slot (see `post_times`)."""
    waiting = not_released(ctx, digest)
    if digest.entries:
        ctx.store.save_digest(digest)
    if waiting is not None:
        log.info("%s: no posts planned: %s", digest.key, waiting)
        return PlanReport(digest.key, DeliveryChannel.SOCIAL, 0, 0, waiting)
    posts = compose_posts(ctx, digest, platform, rules=rules)
    store_post_cards(ctx, digest, [post for _, post in posts])
    timed = post_times(ctx, digest, posts)
    rows = [
        outbox.PlannedDelivery(
            idempotency_key=social_key(digest.key, each.channel, each.post.key),
            digest_key=digest.key,
            channel=DeliveryChannel.SOCIAL,
            target=each.channel,
            payload=each.post.to_dict(),
            available_at=each.at,
        )
        for each in timed
    ]
    new = outbox.plan(ctx.store.engine, rows, now=ctx.clock())
    ctx.store.mark_digest_planned(digest.key, ctx.clock())
    return PlanReport(digest.key, DeliveryChannel.SOCIAL, len(rows), new, posts=tuple(timed))


# Approval ------------------------------------------------------------------------------------


def requires_approval(settings: Settings, kind: DigestKind) -> bool:
    if kind is DigestKind.WEEKLY:
        return settings.digests.weekly.require_approval
    return settings.digests.company.require_approval


def not_released(ctx: Context, digest: Digest) -> str | None:
    """Why the digest may not be planned for its recipients now, or None when it may.

    A digest with no news is never sent; a hold stops any digest; a kind with
    `require_approval` goes only once an editor approved it. The stored snapshot is what the
    editor saw and what is sent.
    """
    approval = ctx.store.digest_approval(digest.key) if digest.entries else None
    decided = approval.status if approval else ApprovalStatus.DRAFT
    blocker = release_blocker(ctx.settings, digest.kind, bool(digest.entries), decided)
    if blocker is not None or not requires_approval(ctx.settings, digest.kind):
        return blocker
    # Approved: only with the content that was approved (an edit since returned it to draft).
    stored = ctx.store.load_digest(digest.key)
    if approval is None or stored is None or approval.approved_hash != content_hash(stored):
        return "its content is not what was approved: an editor must approve it again"
    return None


def release_blocker(
    settings: Settings, kind: DigestKind, has_news: bool, decided: ApprovalStatus
) -> str | None:
    """`not_released` for what is already known of a digest: its kind, whether it has news,
    and the editors' decision."""
    if not has_news:
        return "no news in its week: nothing to send"
    if decided is ApprovalStatus.HELD:
        return "held by an editor"
    if decided is not ApprovalStatus.APPROVED and requires_approval(settings, kind):
        return "waiting for an editor's approval"
    return None


def scheduled_send_at(ctx: Context, digest: Digest | DigestSummary) -> datetime | None:
    """When the scheduler sends this digest: its kind's first run after the digest's window
    closes (the jobs send the week that just ended); None when that schedule is disabled."""
    return send_time(ctx, digest.kind, digest.window_end)


def send_time(ctx: Context, kind: DigestKind, window_end: datetime) -> datetime | None:
    """`scheduled_send_at` for a digest of `kind` whose window ends at `window_end`."""
    schedules = ctx.settings.schedules
    schedule = schedules.weekly if kind is DigestKind.WEEKLY else schedules.company
    if not schedule.enabled:
        return None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=ctx.settings.site.zone)
    fire: datetime | None = trigger.get_next_fire_time(None, window_end)
    return fire


@dataclass(frozen=True, slots=True)
class Decision:
    digest_key: str
    status: ApprovalStatus
    planned_now: int  # rows planned at once: approved after its scheduled time had passed


def decide(
    ctx: Context,
    digest: Digest,
    status: ApprovalStatus,
    editor: str,
    *,
    actor: str | None = None,
) -> Decision:
    """An editor approves or holds a digest: its snapshot is stored (what they saw is what goes),
    the decision recorded with the hash of that content and an audit entry (`actor`, by
    default "editor:NAME"). An approval that comes after the digest's scheduled time plans its
    rows at once, for `digest worker` to deliver; before that, the scheduler sends it at its time.
    """
    ctx.store.save_digest(digest)
    now = ctx.clock()
    snapshot = ctx.store.load_digest(digest.key) or digest
    ctx.store.set_digest_approval(
        digest.key,
        status,
        by=editor,
        at=now,
        content_hash=content_hash(snapshot),
        audit_actor=actor or f"editor:{editor}",
    )
    log.info("%s %s by %s", digest.key, status.value, editor)
    planned = 0
    due = scheduled_send_at(ctx, digest)
    if status is ApprovalStatus.APPROVED and due is not None and due <= now:
        planned = plan_now(ctx, digest)
    return Decision(digest.key, status, planned)


def plan_now(ctx: Context, digest: Digest) -> int:
    """Plan the stored snapshot's emails and posts at once, as its scheduled run would have (a
    late approval, a missed run sent by an editor); how many rows were new. Posts follow the
    platforms' default limits: the web app cannot ask a Mastodon server for its own."""
    stored = ctx.store.load_digest(digest.key) or digest
    return plan_email(ctx, stored).new + plan_social(ctx, stored).new


# Scheduled jobs ------------------------------------------------------------------------------


def send_digests(ctx: Context, digests: Sequence[Digest]) -> DeliveryReport:
    """Plan each digest that may go (see `not_released`), then deliver what is due."""
    # Imported where it runs: the web app composes and plans with this module, and must never
    # import delivery/, which the deliverer does.
    from digest.schedule.deliverer import deliver_due, social_rules

    rules = social_rules(ctx) if digests else {}
    for digest in digests:
        plan_email(ctx, digest)
        plan_social(ctx, digest, rules=rules)
    return deliver_due(ctx)


def weekly_job(ctx: Context) -> DeliveryReport:
    """Monday's weekly digest: the week that just ended."""
    return send_digests(ctx, [compose_weekly(ctx, last_complete_week(ctx))])


def company_job(ctx: Context) -> DeliveryReport:
    """Monday's per-company digests: every company with news in the week that just ended."""
    return send_digests(ctx, compose_companies(ctx, last_complete_week(ctx)))


# Retention -----------------------------------------------------------------------------------

# A sign-up never confirmed is deleted after this long: its confirmation link died at 7 days.
PENDING_DAYS = 30


@dataclass(frozen=True, slots=True)
class PurgeReport:
    events: int = 0  # raw engagement events deleted
    pending: int = 0  # sign-ups never confirmed, deleted
    profiles: int = 0  # rows of the subscriber profile counts folded into others

    def words(self, nothing: str = "nothing to purge") -> str:
        done = [
            f"{count} {noun if count == 1 else noun + 's'} {verb}"
            for count, noun, verb in (
                (self.events, "raw engagement event", "purged"),
                (self.pending, "sign-up never confirmed", "purged"),
                (self.profiles, "profile count", "folded"),
            )
            if count
        ]
        return "; ".join(done) or nothing


def purge_engagement(ctx: Context) -> int:
    """Delete the raw click and open events older than `tracking.raw_days` (the hourly counts,
    which name nobody, stay); how many."""
    return purge_events(
        ctx.store.engine, ctx.clock() - timedelta(days=ctx.settings.tracking.raw_days)
    )


def purge_pending(ctx: Context) -> int:
    """Delete the sign-ups still pending PENDING_DAYS after they last signed up (their record,
    their confirmation rows): an address someone typed is not kept unconfirmed for ever."""
    return ctx.store.purge_pending(ctx.clock() - timedelta(days=PENDING_DAYS))


def retention(ctx: Context) -> PurgeReport:
    """The retention rules, applied by the scheduler every hour."""
    return PurgeReport(
        events=purge_engagement(ctx),
        pending=purge_pending(ctx),
        profiles=ctx.store.fold_subscriber_profiles(),
    )
