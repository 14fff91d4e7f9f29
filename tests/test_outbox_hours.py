"""next_local_hour: when an email falls due at its subscriber's hour, across summer time and in
zones off the whole hour; by_hour: how many fall due in each hour."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.outbox.hours import by_hour, hour_starts, next_local_hour

PARIS = ZoneInfo("Europe/Paris")
# Monday 2026-11-30, 07:00 in Paris (CET, UTC+1): the weekly's scheduled release.
RELEASE = datetime(2026, 11, 30, 7, tzinfo=PARIS)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


CASES = [
    # (zone, hour, release, due)
    ("Asia/Tokyo", 8, RELEASE, utc(2026, 11, 30, 23)),  # 15:00 there: their next 08:00
    ("America/Los_Angeles", 6, RELEASE, utc(2026, 11, 30, 14)),  # 22:00 Sunday there
    ("Europe/Paris", 7, RELEASE, utc(2026, 11, 30, 6)),  # their hour is under way: at once
    ("Europe/Paris", 7, RELEASE + timedelta(minutes=59), utc(2026, 11, 30, 6, 59)),
    ("Europe/Paris", 7, RELEASE + timedelta(minutes=60), utc(2026, 12, 1, 6)),  # gone: tomorrow
    ("Europe/Paris", 6, RELEASE, utc(2026, 12, 1, 5)),
    ("UTC", 0, RELEASE, utc(2026, 12, 1, 0)),
    ("Asia/Kolkata", 10, RELEASE, utc(2026, 12, 1, 4, 30)),  # UTC+05:30
    ("Asia/Kathmandu", 8, RELEASE, utc(2026, 12, 1, 2, 15)),  # UTC+05:45
    ("Asia/Kathmandu", 12, RELEASE, utc(2026, 11, 30, 6, 15)),  # 11:45 there
    ("Australia/Sydney", 7, RELEASE, utc(2026, 11, 30, 20)),  # AEDT, UTC+11
    # The 2027-03-28 change in Europe: 02:00 does not exist in Paris, 03:00 is CEST.
    ("Europe/Paris", 8, datetime(2027, 3, 27, 9, tzinfo=PARIS), utc(2027, 3, 28, 6)),
    ("Europe/Paris", 2, datetime(2027, 3, 27, 9, tzinfo=PARIS), utc(2027, 3, 28, 1)),
    ("Europe/London", 1, datetime(2027, 3, 27, 9, tzinfo=PARIS), utc(2027, 3, 28, 1)),
    # The US change of 2027-03-14: 02:00 does not exist in New York; 08:00 is EDT.
    ("America/New_York", 2, utc(2027, 3, 13, 12), utc(2027, 3, 14, 7)),
    ("America/New_York", 8, utc(2027, 3, 13, 14), utc(2027, 3, 14, 12)),  # 09:00 EST: tomorrow
    ("America/New_York", 8, utc(2027, 3, 14, 12, 30), utc(2027, 3, 14, 12, 30)),
    # The autumn change (2027-10-31 in Europe): 02:00 comes twice, the first one counts.
    ("Europe/Paris", 2, datetime(2027, 10, 30, 9, tzinfo=PARIS), utc(2027, 10, 31, 0)),
    ("America/New_York", 1, utc(2027, 11, 6, 12), utc(2027, 11, 7, 5)),
]


@pytest.mark.parametrize(("zone", "hour", "release", "due"), CASES)
def test_an_email_falls_due_at_the_first_moment_of_their_hour(
    zone: str, hour: int, release: datetime, due: datetime
) -> None:
    found = next_local_hour(release, ZoneInfo(zone), hour)
    assert found == due and found.tzinfo is UTC
    assert found >= release
    local = found.astimezone(ZoneInfo(zone))
    # On their clock it is their hour; or, on the night the clocks skip it, the jump itself.
    assert local.hour == hour or found == hour_starts(local.date(), hour, ZoneInfo(zone))


def test_a_skipped_hour_falls_at_the_jump_even_when_the_gap_is_not_on_the_hour() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 becomes 02:30 on 2027-10-03.
    zone = ZoneInfo("Australia/Lord_Howe")
    jump = hour_starts(date(2027, 10, 3), 2, zone)
    assert jump.astimezone(zone).replace(tzinfo=None) == datetime(2027, 10, 3, 2, 30)
    assert (jump - timedelta(seconds=1)).astimezone(zone).hour == 1


def test_every_day_of_a_summer_time_week_the_hour_is_the_wall_clock_hour() -> None:
    # A daily release at 07:00 Paris, through the week of the spring change: always 08:00 in
    # Paris and in New York (whose clocks changed two weeks earlier), never twice a day.
    for zone in (PARIS, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kathmandu")):
        seen = set()
        for day in range(24, 32):
            release = datetime(2027, 3, day, 7, tzinfo=PARIS)
            due = next_local_hour(release, zone, 8)
            assert due.astimezone(zone).hour == 8 and due.astimezone(zone).minute == 0
            seen.add(due)
        assert len(seen) == 8


def test_due_times_are_counted_by_the_hour_of_the_sites_clock() -> None:
    due = [
        (utc(2026, 11, 30, 23), 2),
        (utc(2026, 12, 1, 2, 15), 1),  # Kathmandu's 08:00: in the 03:00 hour of Paris
        (utc(2026, 12, 1, 2, 45), 3),
        (utc(2026, 11, 30, 23, 0), 1),
    ]
    assert by_hour(due, PARIS) == [(utc(2026, 11, 30, 23), 3), (utc(2026, 12, 1, 2), 4)]
    # In Kolkata's clock (UTC+05:30) the hours begin at half past on the UTC clock.
    assert by_hour(due, ZoneInfo("Asia/Kolkata")) == [
        (utc(2026, 11, 30, 22, 30), 3),
        (utc(2026, 12, 1, 1, 30), 1),
        (utc(2026, 12, 1, 2, 30), 3),
    ]
