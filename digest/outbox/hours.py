"""A subscriber's local hour as an instant: when their email falls due.

An email row falls due at the first moment, at or after the digest's release, at which it is the
subscriber's chosen hour on their wall clock, worked out with zoneinfo on the day itself, so
08:00 stays 08:00 across a change of summer time and in zones 30 or 45 minutes off the hour
(Asia/Kolkata, Asia/Kathmandu). An hour the clocks skip (02:00 on the night they go forward)
falls at the next valid instant, the moment they jump; an hour they pass twice is taken the
first time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HOUR = timedelta(hours=1)
_SECOND = timedelta(seconds=1)


def hour_starts(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The instant (UTC) `day`'s `hour` begins in `zone`: its first occurrence when the clocks
    pass it twice, the moment they jump when they skip it."""
    wall = datetime.combine(day, time(hour), tzinfo=zone)  # fold=0: the first occurrence
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # Skipped. Read with the offset after the jump the wall time lands before it, with the
    # offset before it at or after it: the jump lies between; find it to the second.
    before, after = wall.replace(fold=1).astimezone(UTC), instant
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > _SECOND:
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def next_local_hour(release: datetime, zone: ZoneInfo, hour: int) -> datetime:
    """The first moment at or after `release` at which it is `hour` o'clock in `zone` (UTC):
    `release` itself when that hour is under way there."""
    day = release.astimezone(zone).date()
    while True:
        start = hour_starts(day, hour, zone)
        if start <= release < start + _HOUR:
            return release.astimezone(UTC)
        if start > release:
            return start
        day += timedelta(days=1)


def by_hour(due: Iterable[tuple[datetime, int]], zone: ZoneInfo) -> list[tuple[datetime, int]]:
    """(instant, how many) grouped by the hour of `zone`'s clock they fall in, earliest first,
    each hour as the instant (UTC) it begins: what the editor and `digest send --dry-run` show."""
    counts: Counter[datetime] = Counter()
    for moment, number in due:
        local = moment.astimezone(zone)
        into = timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
        counts[(moment - into).astimezone(UTC)] += number
    return sorted(counts.items())


class DueTimes:
    """When each email of one release falls due, worked out once per (time zone, hour): a
    million subscribers share a few hundred of them."""

    def __init__(self, release: datetime, default_zone: ZoneInfo, default_hour: int) -> None:
        self.release = release
        self.default_zone = default_zone
        self.default_hour = default_hour
        self._seen: dict[tuple[str, int | None], datetime] = {}

    def at(self, timezone: str, hour: int | None) -> datetime:
        """For a subscriber's time zone and hour; empty or None: the site's."""
        key = (timezone, hour)
        found = self._seen.get(key)
        if found is None:
            chosen = self.default_hour if hour is None else hour
            found = self._seen[key] = next_local_hour(self.release, self._zone(timezone), chosen)
        return found

    def _zone(self, name: str) -> ZoneInfo:
        if not name:
            return self.default_zone
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):  # checked when stored; gone from tzdata since
            return self.default_zone
