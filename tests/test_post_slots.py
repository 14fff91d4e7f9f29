"""A posting schedule, not a burst: each channel's posts fall due in its slots, one post per
slot, the digest's best story first, on SQLite and PostgreSQL; slots keep their wall-clock time
across changes of summer time. Every clock here is set by the test."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from test_approval import DATA, MONDAY_RUN, at, sample  # noqa: F401

from digest import outbox
from digest.context import Context
from digest.errors import ConfigError
from digest.models import DeliveryChannel, DeliveryState
from digest.outbox.slots import free_slots, local_instant, slot_times
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.schedule.deliverer import Deliverer
from digest.settings import parse_settings
from digest.store import Store
from digest.store.schema import deliveries

REPO = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


# Slots in a time zone ------------------------------------------------------------------------


def test_a_slot_keeps_its_wall_clock_time_across_the_change_to_summer_time() -> None:
    # Paris goes from +01:00 to +02:00 on 29 March 2026.
    slots = slot_times([time(9, 0)], PARIS, paris(2026, 3, 28, 0, 0))
    first, second = next(slots), next(slots)
    assert first == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert second == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert [slot.astimezone(PARIS).hour for slot in (first, second)] == [9, 9]


def test_a_skipped_time_falls_past_the_gap_and_a_repeated_one_is_taken_the_first_time() -> None:
    skipped = local_instant(date(2026, 3, 29), time(2, 30), PARIS)  # clocks go 02:00 → 03:00
    assert skipped.astimezone(PARIS).isoformat() == "2026-03-29T03:30:00+02:00"
    repeated = local_instant(date(2026, 10, 25), time(2, 30), PARIS)  # 02:00–03:00 twice
    assert repeated == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the +02:00 one
    # On the night of the gap 02:30 and 03:30 are one instant: one slot, not two.
    times = [time(2, 30), time(3, 30)]
    night = list(free_slots(times, PARIS, paris(2026, 3, 29, 0, 0), 2, taken=()))
    assert [s.astimezone(PARIS).isoformat() for s in night] == [
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_free_slots_start_after_now_and_pass_over_the_ones_taken() -> None:
    times = [time(9, 0), time(12, 30), time(17, 30)]
    now = paris(2026, 12, 1, 12, 0)
    taken = {paris(2026, 12, 1, 12, 30)}
    found = free_slots(times, PARIS, now, 3, taken)
    assert found == [
        paris(2026, 12, 1, 17, 30),
        paris(2026, 12, 2, 9, 0),
        paris(2026, 12, 2, 12, 30),
    ]


# Settings ------------------------------------------------------------------------------------


def settings_with(**channel: Any) -> Any:
    raw: dict[str, Any] = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["social"] = [{"name": "x", "type": "file", "platform": "x", **channel}]
    return parse_settings(raw, where="settings.yaml", root=REPO)


def test_spacing_within_a_window_gives_the_times_of_day() -> None:
    (channel,) = settings_with(spacing="1h30m", window=["08:00", "12:30"]).social
    assert channel.posting_times() == (time(8), time(9, 30), time(11), time(12, 30))
    (channel,) = settings_with(slots=["17:30", "09:00"], timezone="America/New_York").social
    assert channel.posting_times() == (time(9), time(17, 30))
    assert channel.posting_zone(settings_with().site) == NEW_YORK
    (channel,) = settings_with().social
    assert channel.posting_times() == ()  # no slots: everything at once


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({"slots": ["9am"]}, "social[0].slots[0]: '9am' is not a time: write it as 09:30"),
        ({"slots": ["09:00", "09:00"]}, "social[0].slots: each time once"),
        ({"slots": ["09:00"], "spacing": "2h"}, "social[0].spacing: give slots or spacing"),
        ({"spacing": "5m"}, "social[0].spacing: '5m': from 15m to 24h"),
        ({"spacing": "often"}, "social[0].spacing: 'often': from 15m to 24h"),
        ({"spacing": "1h", "window": ["20:00", "08:00"]}, "social[0].window: two times"),
        ({"slots": ["09:00"], "timezone": "Mars/Base"}, "social[0].timezone: unknown time zone"),
    ],
)
def test_a_wrong_schedule_names_its_key(channel: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(**channel)
    assert any(expected in str(problem) for problem in caught.value.problems)


# Planning on both backends -------------------------------------------------------------------

SLOTS = ["09:00", "12:30", "17:30"]


def context(store: Store, tmp_path: Path, **schedule: Any) -> Context:
    raw: dict[str, Any] = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["social"] = [
        {"name": "x", "type": "file", "platform": "x", "options": {"directory": "social"}},
        {"name": "threads", "type": "file", "platform": "threads", **schedule},
    ]
    raw["social"][0].update(slots=SLOTS)
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    return Context(
        settings=settings, store=store, env=template_environment(), clock=lambda: MONDAY_RUN
    )


def post_rows(store: Store, channel: str) -> list[tuple[str, datetime]]:
    query = (
        deliveries.select()
        .with_only_columns(deliveries.c.idempotency_key, deliveries.c.available_at)
        .where(deliveries.c.target == channel, deliveries.c.channel == DeliveryChannel.SOCIAL.value)
        .order_by(deliveries.c.id)
    )
    with store.engine.connect() as connection:
        return [(key, moment) for key, moment in connection.execute(query).all()]


def test_posts_take_the_next_free_slots_in_ranking_order_one_per_slot(
    sample: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctx = context(sample, tmp_path)  # threads: no slots
    weekly = jobs.compose_weekly(ctx, jobs.last_complete_week(ctx))
    report = jobs.plan_social(ctx, weekly)
    x = [each for each in report.posts if each.channel == "x"]
    items = [each for each in x if each.post.key.startswith("item:")]
    ranked = [f"item:{entry.item.id}" for entry in weekly.entries]
    assert [each.post.key for each in items] == ranked
    # Monday 07:00 in Paris: the first slot is 09:00 that day, then 12:30, 17:30, Tuesday 09:00…
    assert [each.at.strftime("%a %H:%M") for each in items[:4] if each.at] == [
        "Mon 09:00",
        "Mon 12:30",
        "Mon 17:30",
        "Tue 09:00",
    ]
    assert all(each.at and each.at.utcoffset() == timedelta(hours=1) for each in x)  # in Paris
    # The "top stories" thread: its first part in the next slot, each reply a minute later.
    thread = [each for each in x if each.post.key.startswith("top")]
    assert len(thread) > 1 and thread[0].at is not None
    assert thread[0].at.astimezone(PARIS).time() in {time(9), time(12, 30), time(17, 30)}
    assert [each.at for each in thread] == [
        thread[0].at + timedelta(minutes=n) for n in range(len(thread))
    ]
    stored = post_rows(sample, "x")
    assert [moment for _, moment in stored] == [each.at for each in x]
    assert len({moment for _, moment in stored}) == len(stored)  # no two at one time
    # Without slots, everything at once, as before.
    assert {moment for _, moment in post_rows(sample, "threads")} == {MONDAY_RUN}

    # Another digest planned later on the same channel takes the slots still free, never one
    # the weekly's posts hold; planning the weekly again changes nothing.
    later = at(ctx, MONDAY_RUN + timedelta(hours=1))
    mistral = jobs.compose_companies(later, jobs.last_complete_week(ctx), "mistral-ai")[0]
    (company,) = [each for each in jobs.plan_social(later, mistral).posts if each.channel == "x"]
    taken = {moment for _, moment in stored}
    assert company.at is not None and company.at not in taken
    assert company.at == min(
        free_slots([time(9), time(12, 30), time(17, 30)], PARIS, MONDAY_RUN, 1, taken)
    )
    again = jobs.plan_social(later, weekly)
    assert again.new == 0 and [each.at for each in again.posts if each.channel == "x"] == [
        each.at for each in x
    ]
    assert post_rows(sample, "x")[: len(stored)] == stored


def test_a_skipped_post_gives_its_slot_back(sample: Store, tmp_path: Path) -> None:  # noqa: F811
    ctx = context(sample, tmp_path)
    mistral = jobs.compose_companies(ctx, jobs.last_complete_week(ctx), "mistral-ai")[0]
    (first,) = [each for each in jobs.plan_social(ctx, mistral).posts if each.channel == "x"]
    with sample.engine.begin() as connection:
        connection.execute(
            deliveries.update()
            .where(deliveries.c.target == "x")
            .values(state=DeliveryState.SKIPPED.value)
        )
    deepseek = jobs.compose_companies(ctx, jobs.last_complete_week(ctx), "deepseek")[0]
    (second,) = [each for each in jobs.plan_social(ctx, deepseek).posts if each.channel == "x"]
    assert second.at == first.at


def test_the_file_adapter_writes_each_post_with_its_slot_when_it_falls_due(
    sample: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctx = context(sample, tmp_path, slots=["10:00"], timezone="America/New_York")
    mistral = jobs.compose_companies(ctx, jobs.last_complete_week(ctx), "mistral-ai")[0]
    jobs.plan_social(ctx, mistral)
    assert Deliverer(ctx, owner="w").run().states == {}  # nothing is due at 07:00
    evening = at(ctx, datetime(2026, 11, 30, 17, 0, tzinfo=PARIS))
    assert Deliverer(evening, owner="w").run().states == {"sent": 2}
    (x,) = [json.loads(line) for line in (tmp_path / "social" / "x.jsonl").open()]
    (threads,) = [
        json.loads(line) for line in (tmp_path / "outbox" / "social" / "threads.jsonl").open()
    ]
    assert x["scheduled_for"] == "2026-11-30T09:00:00+01:00"
    assert threads["scheduled_for"] == "2026-11-30T10:00:00-05:00"  # its own zone
    assert datetime.fromisoformat(threads["scheduled_for"]) == datetime(
        2026, 11, 30, 15, 0, tzinfo=UTC
    )


def test_the_demo_horizon_writes_posts_ahead_of_their_slots(
    sample: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctx = context(sample, tmp_path)
    mistral = jobs.compose_companies(ctx, jobs.last_complete_week(ctx), "mistral-ai")[0]
    report = jobs.plan_social(ctx, mistral)
    last = max(each.at for each in report.posts if each.at)
    states = Deliverer(ctx, owner="w", due_by=last).run().states
    assert states == {"sent": 2}
    assert outbox.state_counts(sample.engine) == {"sent": 2}
