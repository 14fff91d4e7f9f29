"""Throttling: named policies of fixed-window limits, counted in the store for every process.

A policy is a few windows of growing length ("5/minute;10/10 minutes;20/hour"): a client that
keeps trying waits longer and longer. Callers `test` before doing the work and `hit` for what
counts (a failed login, a sign-up sent), or `hit` at once where every request counts (an API
token's requests). The verdict says how long to wait, for a clear message and `Retry-After`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from limits import RateLimitItem, parse_many
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine

from digest.store.ratelimits import Clock, DatabaseStorage


@dataclass(frozen=True)
class Policy:
    name: str  # part of every counter's key: two policies never share a count
    limits: str  # `limits` notation, windows separated by ";"

    @cached_property
    def items(self) -> list[RateLimitItem]:
        return parse_many(self.limits)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until every exhausted window has ended

    @property
    def wait_words(self) -> str:
        """ "about 3 minutes": how long to wait, for a person."""
        if self.retry_after < 90:
            seconds = max(self.retry_after, 1)
            return f"{seconds} second{'s' if seconds != 1 else ''}"
        minutes = math.ceil(self.retry_after / 60)
        if minutes < 90:
            return f"about {minutes} minutes"
        return f"about {math.ceil(minutes / 60)} hours"


# Editor logins: per account and per client address, failures only (issue 10 and 13).
LOGIN_PER_ACCOUNT = Policy("login-account", "5/minute;10/10 minutes;20/hour;50/day")
LOGIN_PER_CLIENT = Policy("login-client", "10/minute;30/hour;100/day")
# Sign-ups per client address, every form sent counting (issue 10: a thousand in six seconds).
# Room for an office or a conference stand behind one address; a script gets a 429 at once.
SIGNUP_PER_CLIENT = Policy("signup-client", "10/minute;60/hour;200/day")


@dataclass
class Throttle:
    engine: Engine
    clock: Clock
    storage: DatabaseStorage = field(init=False)
    limiter: FixedWindowRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.storage = DatabaseStorage(self.engine, self.clock)
        self.limiter = FixedWindowRateLimiter(self.storage)

    def test(self, policy: Policy, *identifiers: str) -> Verdict:
        """Whether one more hit would be allowed, counting nothing."""
        exhausted = [
            item for item in policy.items if not self.limiter.test(item, policy.name, *identifiers)
        ]
        return self._verdict(policy, exhausted, identifiers)

    def hit(self, policy: Policy, *identifiers: str) -> Verdict:
        """Count one hit in every window; whether it was within all of them."""
        exhausted = [
            item for item in policy.items if not self.limiter.hit(item, policy.name, *identifiers)
        ]
        return self._verdict(policy, exhausted, identifiers)

    def clear(self, policy: Policy, *identifiers: str) -> None:
        for item in policy.items:
            self.limiter.clear(item, policy.name, *identifiers)

    def _verdict(
        self, policy: Policy, exhausted: list[RateLimitItem], identifiers: tuple[str, ...]
    ) -> Verdict:
        if not exhausted:
            return Verdict(True)
        now = self.clock().timestamp()
        ends = max(
            self.limiter.get_window_stats(item, policy.name, *identifiers).reset_time
            for item in exhausted
        )
        return Verdict(False, max(1, math.ceil(ends - now)))
