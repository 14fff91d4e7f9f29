"""Throttling through the store: windows shared by every process, growing waits, the clock's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.store import Store
from digest.web.throttle import Policy, Throttle, Verdict

START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def test_a_policy_refuses_past_its_limit_and_says_how_long_to_wait(store: Store) -> None:
    clock = Clock()
    throttle = Throttle(store.engine, clock)
    policy = Policy("login-account", "3/minute;5/hour")
    assert [throttle.hit(policy, "quinn").allowed for _ in range(3)] == [True] * 3
    refused = throttle.test(policy, "quinn")
    assert refused == Verdict(False, 60)
    assert throttle.test(policy, "somebody else").allowed
    clock.now += timedelta(seconds=61)  # the minute's window ended, the hour's has 2 left
    assert throttle.hit(policy, "quinn").allowed
    assert throttle.hit(policy, "quinn").allowed
    clock.now += timedelta(seconds=61)
    longer = throttle.test(policy, "quinn")
    assert not longer.allowed and longer.retry_after == 3600 - 122
    assert longer.wait_words == "about 58 minutes"


def test_two_processes_share_one_count(store: Store, database_url: str) -> None:
    clock = Clock()
    policy = Policy("signup-client", "2/minute")
    other = Store.open(database_url)  # another process's engine on the same database
    try:
        first, second = Throttle(store.engine, clock), Throttle(other.engine, clock)
        assert first.hit(policy, "203.0.113.7").allowed
        assert second.hit(policy, "203.0.113.7").allowed
        assert not first.hit(policy, "203.0.113.7").allowed
        assert not second.test(policy, "203.0.113.7").allowed
        second.clear(policy, "203.0.113.7")
        assert first.test(policy, "203.0.113.7").allowed
    finally:
        other.close()


def test_ended_windows_are_purged(store: Store) -> None:
    clock = Clock()
    throttle = Throttle(store.engine, clock)
    throttle.hit(Policy("p", "1/minute"), "a")
    throttle.hit(Policy("p", "1/hour"), "b")
    clock.now += timedelta(minutes=2)
    assert throttle.storage.purge_ended() == 1
    assert not throttle.test(Policy("p", "1/hour"), "b").allowed
