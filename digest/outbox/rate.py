"""Rate limits for one channel's adapter: messages per second and per hour.

Per second is a token bucket in each worker: sends are released in slices as tokens come in.
Per hour is counted in the database (rows sent in the last hour plus rows being sent now, by any
worker), so several workers share the one limit the provider sets for the account.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from digest.models import DeliveryChannel
from digest.outbox.counts import sent_since

HOUR = timedelta(hours=1)


def _tighter(first: float | None, second: float | None) -> float | None:
    given = [limit for limit in (first, second) if limit is not None]
    return min(given) if given else None


@dataclass
class RateLimiter:
    per_second: float | None = None
    per_hour: int | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._updated = self.clock()

    @classmethod
    def combined(
        cls,
        configured_per_second: float | None,
        configured_per_hour: int | None,
        adapter_per_second: float | None,
        adapter_per_hour: int | None,
    ) -> RateLimiter:
        """settings.yaml may lower the adapter's own limits, never raise them."""
        per_hour = _tighter(configured_per_hour, adapter_per_hour)
        return cls(
            per_second=_tighter(configured_per_second, adapter_per_second),
            per_hour=int(per_hour) if per_hour is not None else None,
        )

    @property
    def burst(self) -> int:
        """The largest slice sent at once: a second's worth."""
        return max(1, math.floor(self.per_second)) if self.per_second else 1_000_000

    def hourly_allowance(
        self, engine: Engine, channel: DeliveryChannel, now: datetime, wanted: int
    ) -> int:
        """How many of `wanted` rows may be claimed now under the per-hour limit."""
        if self.per_hour is None:
            return wanted
        return max(0, min(wanted, self.per_hour - sent_since(engine, channel, now - HOUR)))

    def slices(self, count: int) -> list[int]:
        """`count` cut into slices no bigger than the burst."""
        burst = self.burst
        return [min(burst, count - start) for start in range(0, count, burst)]

    def acquire(self, count: int) -> float:
        """Wait until `count` (at most a burst) messages may go; the seconds waited."""
        if not self.per_second:
            return 0.0
        waited = 0.0
        while True:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.per_second)
            self._updated = now
            if self._tokens >= count - 1e-9:  # a rounding error must not cost a sleep
                self._tokens = max(0.0, self._tokens - count)
                return waited
            pause = (count - self._tokens) / self.per_second
            self.sleep(pause)
            waited += pause
