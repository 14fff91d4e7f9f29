"""Each email falls due at its subscriber's local hour after the digest's release, and workers
deliver it then, once: on SQLite and on PostgreSQL, across summer time and in zones 30 and 45
minutes off the hour. Every clock here is set by the test."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select
from test_approval import DATA, MONDAY_RUN, at, context_for

from digest import outbox
from digest.cli import main
from digest.context import Context
from digest.ingest import read_sources
from digest.models import DeliveryChannel, Preferences, Subscriber
from digest.render.message import OutgoingEmail
from digest.schedule import jobs
from digest.schedule.deliverer import Deliverer
from digest.schedule.messages import MessageBuilder
from digest.schedule.status import digest_status
from digest.store import Store
from digest.store.schema import deliveries
from digest.web.editor.previews import due_view

PARIS = ZoneInfo("Europe/Paris")
WEEKLY = "weekly:2026-W48"

# (id, time zone, hour): "" and None are the site's (Europe/Paris, 08:00).
READERS = [
    ("tokyo", "Asia/Tokyo", 8),
    ("la", "America/Los_Angeles", 8),
    ("kolkata", "Asia/Kolkata", 10),
    ("kathmandu", "Asia/Kathmandu", 8),
    ("paris-default", "", None),
    ("paris-now", "Europe/Paris", 7),  # released at 07:00 Paris: their hour is under way
    ("stockholm", "Europe/Stockholm", 7),
    ("sydney", "Australia/Sydney", 7),
    ("new-york", "America/New_York", 6),
    ("utc-midnight", "UTC", 0),
    ("sao-paulo", "America/Sao_Paulo", 23),
    ("auckland", "Pacific/Auckland", 9),
]
# When each falls due for a release at 07:00 Paris on Monday 30 November 2026 (06:00 UTC).
DUE = {
    "tokyo": datetime(2026, 11, 30, 23, 0, tzinfo=UTC),  # Tuesday 08:00 JST
    "la": datetime(2026, 11, 30, 16, 0, tzinfo=UTC),  # Monday 08:00 PST
    "kolkata": datetime(2026, 12, 1, 4, 30, tzinfo=UTC),  # Tuesday 10:00 IST (+05:30)
    "kathmandu": datetime(2026, 12, 1, 2, 15, tzinfo=UTC),  # Tuesday 08:00 NPT (+05:45)
    "paris-default": datetime(2026, 11, 30, 7, 0, tzinfo=UTC),  # 08:00 CET
    "paris-now": datetime(2026, 11, 30, 6, 0, tzinfo=UTC),  # at the release
    "stockholm": datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
    "sydney": datetime(2026, 11, 30, 20, 0, tzinfo=UTC),  # Tuesday 07:00 AEDT (+11)
    "new-york": datetime(2026, 11, 30, 11, 0, tzinfo=UTC),  # Monday 06:00 EST
    "utc-midnight": datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
    "sao-paulo": datetime(2026, 12, 1, 2, 0, tzinfo=UTC),  # Monday 23:00 BRT (-03)
    "auckland": datetime(2026, 11, 30, 20, 0, tzinfo=UTC),  # Tuesday 09:00 NZDT (+13)
}


def readers() -> list[Subscriber]:
    return [
        Subscriber(
            id=reader,
            email=f"{reader}@example.com",
            name="",
            timezone=zone,
            preferences=Preferences(send_hour=hour),
        )
        for reader, zone, hour in READERS
    ]


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Context:
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    store.save_subscribers(readers())
    ctx = context_for(store, tmp_path, weekly=False, company=False)
    return replace(ctx, settings=replace(ctx.settings, social=()))


def due_times(ctx: Context) -> dict[str, datetime]:
    query = select(deliveries.c.target, deliveries.c.available_at).where(
        deliveries.c.channel == DeliveryChannel.EMAIL.value
    )
    with ctx.store.engine.connect() as connection:
        return {target: at.astimezone(UTC) for target, at in connection.execute(query)}


def delivered(ctx: Context) -> list[str]:
    """The recipients of the messages the file adapter wrote, one entry per message."""
    folder = Path(ctx.settings.root) / "outbox" / "email"
    found = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.eml"))]
    return sorted(
        next(line for line in text.splitlines() if line.startswith("To: "))[4:].strip()
        for text in found
    )


def test_each_email_falls_due_at_its_subscribers_hour_and_goes_then_once(world: Context) -> None:
    monday = at(world, MONDAY_RUN)
    report = jobs.plan_email(monday, jobs.compose_weekly(monday, jobs.IsoWeek(2026, 48)))
    assert report.new == len(READERS)
    assert due_times(world) == DUE
    # A worker running a minute before each time sends nothing new; at the time, that email.
    sent: list[str] = []
    for moment in sorted(set(DUE.values())):
        Deliverer(at(world, moment - timedelta(minutes=1))).run()
        assert delivered(world) == sorted(sent)
        Deliverer(at(world, moment)).run()
        sent += [f"{reader}@example.com" for reader, due in DUE.items() if due == moment]
        assert delivered(world) == sorted(sent)
    Deliverer(at(world, MONDAY_RUN + timedelta(days=3))).run()
    assert delivered(world) == sorted(f"{reader}@example.com" for reader in DUE)  # each once


def test_the_report_and_the_editor_count_the_emails_due_in_each_hour(world: Context) -> None:
    monday = at(world, MONDAY_RUN)
    digest = jobs.compose_weekly(monday, jobs.IsoWeek(2026, 48))
    forecast = jobs.forecast_due(monday, digest, MONDAY_RUN)
    report = jobs.plan_email(monday, digest)
    expected = [
        (datetime(2026, 11, 30, 6, tzinfo=UTC), 2),  # 07:00 Paris: paris-now, stockholm
        (datetime(2026, 11, 30, 7, tzinfo=UTC), 1),
        (datetime(2026, 11, 30, 11, tzinfo=UTC), 1),
        (datetime(2026, 11, 30, 16, tzinfo=UTC), 1),
        (datetime(2026, 11, 30, 20, tzinfo=UTC), 2),  # Sydney and Auckland
        (datetime(2026, 11, 30, 23, tzinfo=UTC), 1),
        (datetime(2026, 12, 1, 0, tzinfo=UTC), 1),
        (datetime(2026, 12, 1, 2, tzinfo=UTC), 2),  # São Paulo, Kathmandu at a quarter past
        (datetime(2026, 12, 1, 4, tzinfo=UTC), 1),  # Kolkata at half past
    ]
    assert list(report.due_by_hour) == expected and list(forecast) == expected
    status = digest_status(monday, digest)
    view = due_view(monday, digest, status)
    assert view.planned and list(view.hours) == expected
    assert status.words.endswith("10 due later, the next at Mon 2026-11-30 08:00 CET")


def test_send_now_makes_every_email_due_at_the_release(world: Context) -> None:
    monday = at(world, MONDAY_RUN)
    digest = jobs.compose_weekly(monday, jobs.IsoWeek(2026, 48))
    jobs.plan_email(monday, digest)
    later = at(world, MONDAY_RUN + timedelta(minutes=30))
    report = jobs.plan_email(later, digest, at_once=True)  # rows planned before come forward
    assert report.at_once and report.new == 0
    assert set(due_times(world).values()) == {
        MONDAY_RUN.astimezone(UTC),  # those already due keep their time
        (MONDAY_RUN + timedelta(minutes=30)).astimezone(UTC),
    }
    Deliverer(later).run()
    assert len(delivered(world)) == len(READERS)


NEW_YORK = ZoneInfo("America/New_York")


def _in(zone: tzinfo, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=zone)  # type: ignore[misc]


SUMMER_TIME = [
    # (release, time zone, hour, due): the Europe change of 2027-03-28, the US one of 2027-03-14
    (_in(PARIS, 2027, 3, 27, 9), "Europe/Paris", 8, _in(UTC, 2027, 3, 28, 6)),
    (_in(PARIS, 2027, 3, 27, 9), "Europe/Paris", 2, _in(UTC, 2027, 3, 28, 1)),
    (_in(PARIS, 2027, 3, 27, 9), "Europe/London", 1, _in(UTC, 2027, 3, 28, 1)),
    (_in(PARIS, 2027, 3, 27, 9), "America/New_York", 8, _in(UTC, 2027, 3, 27, 12)),
    (_in(NEW_YORK, 2027, 3, 13, 9), "America/New_York", 8, _in(UTC, 2027, 3, 14, 12)),
    (_in(NEW_YORK, 2027, 3, 13, 9), "America/New_York", 2, _in(UTC, 2027, 3, 14, 7)),
    (_in(NEW_YORK, 2027, 3, 13, 9), "Europe/Paris", 8, _in(UTC, 2027, 3, 14, 7)),
    (_in(PARIS, 2027, 10, 30, 9), "Europe/Paris", 2, _in(UTC, 2027, 10, 31, 0)),
    (_in(PARIS, 2027, 10, 30, 9), "Asia/Kathmandu", 8, _in(UTC, 2027, 10, 31, 2, 15)),
]


@pytest.mark.parametrize(("release", "zone", "hour", "due"), SUMMER_TIME)
def test_a_summer_time_change_keeps_the_wall_clock_hour(
    world: Context, release: datetime, zone: str, hour: int, due: datetime
) -> None:
    world.store.save_subscribers(
        [
            Subscriber(
                id="dst",
                email="dst@example.com",
                name="",
                timezone=zone,
                preferences=Preferences(send_hour=hour),
            )
        ]
    )
    released = at(world, release)
    jobs.plan_email(released, jobs.compose_weekly(released, jobs.IsoWeek(2026, 48)))
    assert due_times(world)["dst"] == due  # stored and read back as the same instant


def test_the_weekly_of_a_follower_holds_every_story_of_the_companies_they_follow(
    world: Context,
) -> None:
    follower = Subscriber(
        id="follower",
        email="follower@example.com",
        name="",
        preferences=Preferences(topics=("Safety & Policy",), companies=("nvidia", "openai")),
    )
    nobody = Subscriber(
        id="nothing",
        email="nothing@example.com",
        name="",
        preferences=Preferences(topics=("No Such Topic",), companies=("no-such-company",)),
    )
    world.store.save_subscribers([follower, nobody])
    monday = at(world, MONDAY_RUN)
    week = jobs.IsoWeek(2026, 48)
    digest = jobs.compose_weekly(monday, week)
    report = jobs.plan_email(monday, digest, at_once=True)
    assert report.left_out == (
        ("nothing this week in their topics or about the companies they follow", 1),
    )
    assert "nothing" not in due_times(world)
    start, end = week.window(PARIS)
    stories = [
        item
        for item in world.store.items_between(start, end)
        if {"nvidia", "openai"} & set(item.companies)
    ]
    assert len(stories) > 2
    built = MessageBuilder(monday).build_many(
        [
            row
            for row in outbox.claim(
                world.store.engine, owner="t", limit=100, lease=timedelta(minutes=5), now=MONDAY_RUN
            )
            if row.target == "follower"
        ],
        MONDAY_RUN,
    )
    (message,) = built
    assert isinstance(message, OutgoingEmail)
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = " ".join(str(parsed.get_body(("plain",)).get_content()).split())  # type: ignore[union-attr]
    for story in stories:
        assert " ".join(story.title.split()) in text
    assert "BECAUSE YOU FOLLOW NVIDIA" in text
    assert "BECAUSE YOU FOLLOW OPENAI" in text


@time_machine.travel(datetime(2026, 11, 30, 7, 0, tzinfo=PARIS), tick=False)
def test_send_dry_run_prints_the_emails_due_in_each_hour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text((DATA / "settings.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    args: list[Any] = ["--settings", str(settings), "--database", database_url]
    with Store.open(database_url) as store:
        store.write_batch(read_sources([str(DATA / "sample.yaml")]))
        store.save_subscribers(readers())
    assert main([*args, "send", "weekly", "--week", "2026-W48", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{WEEKLY}: would plan 12 emails (12 new)" in out
    assert "  Mon 2026-11-30 07:00 CET: 2 emails due\n" in out
    assert "  Tue 2026-12-01 03:00 CET: 2 emails due\n" in out
    assert main([*args, "send", "weekly", "--week", "2026-W48", "--dry-run", "--now"]) == 0
    assert "all due at once (--now)" in capsys.readouterr().out
