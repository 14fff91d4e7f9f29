"""ISO weeks in the site's time zone: the windows digests are built over."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __post_init__(self) -> None:
        # date.fromisocalendar rejects week 53 of a 52-week year and the like.
        date.fromisocalendar(self.year, self.week, 1)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        match = _WEEK.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not an ISO week; write it like 2026-W48")
        try:
            return cls(int(match.group(1)), int(match.group(2)))
        except ValueError:
            raise ValueError(f"{text!r}: that year has no such week") from None

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> IsoWeek:
        year, week, _ = moment.astimezone(zone).isocalendar()
        return cls(year, week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def first_day(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def window(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[Monday 00:00, next Monday 00:00) in `zone`, as aware datetimes."""
        monday = self.first_day()
        start = datetime.combine(monday, time(), tzinfo=zone)
        end = datetime.combine(monday + timedelta(days=7), time(), tzinfo=zone)
        return start, end

    def previous(self) -> IsoWeek:
        year, week, _ = (self.first_day() - timedelta(days=7)).isocalendar()
        return IsoWeek(year, week)
