"""The desk's front page: a week of what is scheduled, each digest and each social post at its
time, with its state, and a link to it.

A calendar week shows what is *sent* in it: Monday's runs send the digests of the week before
(jobs.send_time), and posts go at their outbox slots. Built from a few indexed queries (the
companies with news that week, the stored digests of that window, the post rows due in the
week), never by composing digests or reading the audience.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from digest.compose import IsoWeek
from digest.compose.weekly import WEEKLY_TITLE
from digest.context import Context
from digest.models import DigestKind
from digest.outbox import calendar as outbox_calendar
from digest.schedule.status import digest_statuses
from digest.store.store import DigestSummary
from digest.web.editor import auth
from digest.web.editor.pages import render
from digest.web.editor.roles import Permission
from digest.web.pages import context_of

MAX_POSTS = 200  # post rows shown in one week: beyond that the week is summarised
# Events of one kind at one time (the company digests of a Monday run, a digest's posts) from this
# many on are one folded group, so that a day stays readable; the group opens on a click.
GROUP_FROM = 3
_POST_TEXT = 70  # characters of a post's text in its line


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime | None  # None: its schedule is disabled
    kind: str  # "weekly" | "company" | "post"
    key: str  # the digest's key (a post's digest key)
    title: str
    state: str  # draft, approved, held, planned, missed, sending, sent, failed, …
    detail: str  # one line: what it is


@dataclass(frozen=True, slots=True)
class Group:
    """The events of one kind at one time."""

    at: datetime
    kind: str
    events: tuple[Event, ...]

    @property
    def folded(self) -> bool:
        return len(self.events) >= GROUP_FROM

    @property
    def label(self) -> str:
        noun = {"weekly": "weekly digest", "company": "company digest"}.get(self.kind, self.kind)
        return f"{len(self.events)} {noun}s"

    @property
    def states(self) -> tuple[tuple[str, int], ...]:
        """(state, how many), most common first."""
        return tuple(Counter(event.state for event in self.events).most_common())


@dataclass(frozen=True, slots=True)
class Day:
    date: date
    events: tuple[Event, ...]
    today: bool

    @property
    def groups(self) -> tuple[Group, ...]:
        found: dict[tuple[datetime, str], list[Event]] = {}
        for event in self.events:
            assert event.at is not None  # a day holds only scheduled events
            found.setdefault((event.at, event.kind), []).append(event)
        return tuple(Group(at, kind, tuple(events)) for (at, kind), events in found.items())


@dataclass(frozen=True, slots=True)
class WeekView:
    week: IsoWeek  # the week things are sent in
    content_week: IsoWeek  # the week the digests are about
    days: tuple[Day, ...]
    unscheduled: tuple[Event, ...]  # digests whose kind's schedule is disabled
    more_posts: int  # post rows beyond MAX_POSTS


def week_view(ctx: Context, week: IsoWeek) -> WeekView:
    zone = ctx.settings.site.zone
    now = ctx.clock()
    content = week.previous()  # the Monday runs of `week` send the week before
    start, end = content.window(zone)
    stored = {s.key: s for s in ctx.store.digest_summaries(window_start=start)}
    # Digests not stored yet, known from the week's news alone (nothing composed for them).
    unstored: dict[str, DigestSummary] = {}
    if ctx.store.has_items_between(start, end):
        key = f"weekly:{content}"
        unstored[key] = DigestSummary(key, DigestKind.WEEKLY, WEEKLY_TITLE, start, end)
    companies = ctx.store.companies()
    for slug in ctx.store.companies_with_news(start, end):
        name = companies[slug].name if slug in companies else slug
        key = f"company:{slug}:{content}"
        unstored[key] = DigestSummary(key, DigestKind.COMPANY, f"{name}: what's new", start, end)
    digests = {**unstored, **stored}
    statuses = digest_statuses(ctx, list(digests.values()))
    events: list[Event] = []
    for key, summary in digests.items():
        status = statuses[key]
        where = "stored" if key in stored else "not stored yet"
        events.append(
            Event(
                status.send_at,
                summary.kind.value,
                key,
                summary.title,
                status.stage.value,
                f"{summary.kind.value} digest · {where}",
            )
        )
    week_start, week_end = week.window(zone)
    posts = outbox_calendar.post_slots(ctx.store.engine, week_start, week_end, limit=MAX_POSTS + 1)
    for post in posts[:MAX_POSTS]:
        text = textwrap.shorten(post.text, _POST_TEXT, placeholder="…") if post.text else ""
        detail = f"{post.digest_key} · {text}" if text else post.digest_key
        events.append(Event(post.at, "post", post.digest_key, post.channel, post.state, detail))
    today = now.astimezone(zone).date()
    monday = week.first_day()
    days = tuple(
        Day(
            date=monday + timedelta(days=offset),
            events=tuple(
                sorted(
                    (
                        e
                        for e in events
                        if e.at is not None
                        and e.at.astimezone(zone).date() == monday + timedelta(days=offset)
                    ),
                    key=lambda e: (e.at, e.kind != "weekly", e.key),
                )
            ),
            today=monday + timedelta(days=offset) == today,
        )
        for offset in range(7)
    )
    return WeekView(
        week=week,
        content_week=content,
        days=days,
        unscheduled=tuple(e for e in events if e.at is None),
        more_posts=max(0, len(posts) - MAX_POSTS),
    )


@auth.requires(Permission.VIEW)
async def index(request: Request) -> Response:
    ctx = context_of(request)
    zone = ctx.settings.site.zone
    asked = request.query_params.get("week")
    try:
        week = IsoWeek.parse(asked) if asked else IsoWeek.containing(ctx.clock(), zone)
    except ValueError:
        week = IsoWeek.containing(ctx.clock(), zone)
    view = week_view(ctx, week)
    following = IsoWeek.containing(
        datetime.combine(week.first_day() + timedelta(days=7), datetime.min.time(), zone), zone
    )
    return render(
        request,
        "calendar.html.j2",
        view=view,
        previous=week.previous(),
        following=following,
        this_week=IsoWeek.containing(ctx.clock(), zone),
    )
