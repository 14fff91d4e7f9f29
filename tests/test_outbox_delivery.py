"""The email path of the outbox on both backends, against a real SMTP server: retries of
transient failures, permanent failures recorded once, skips decided at delivery time, the pause
after failures in a row, the rate limits, and emails whose outcome is unknown (sent again once,
then held)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from email_world import (
    fill,
    plan_weekly,
    readers,
    rows,
    smtp_context,
    unsubscribe,
)
from smtp_sink import Recorder

from digest import outbox
from digest.context import Context
from digest.models import DeliveryChannel, DeliveryState
from digest.outbox.rate import RateLimiter
from digest.schedule.deliverer import Deliverer
from digest.settings import UnknownOutcomeSettings
from digest.store import Store


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(
        replies={
            "reader1@example.com": "451 4.2.1 Mailbox busy, try later",
            "reader2@example.com": "550 5.1.1 No such user",
        }
    )


@pytest.fixture
def ctx(store: Store, tmp_path: Path, recorder: Recorder) -> Iterator[Context]:
    with smtp_context(store, tmp_path, recorder) as made:
        yield made


def test_transient_failures_wait_for_a_retry_and_permanent_ones_are_final(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    fill(store, readers(6))
    plan_weekly(ctx)  # r00005 active when planned …
    unsubscribe(store, readers(6)[5])  # … and gone before delivery: skipped
    before = ctx.clock()
    report = Deliverer(ctx).run()
    assert report.states == {"sent": 3, "planned": 1, "failed": 1, "skipped": 1}
    assert report.paused is None
    found = rows(store)
    busy, gone, left = found["r00001"], found["r00002"], found["r00005"]
    assert busy["state"] == "planned" and busy["attempts"] == 1
    assert busy["available_at"] > before + timedelta(seconds=10)  # backed off, with jitter
    assert "451" in busy["last_error"]
    assert gone["state"] == "failed" and "550 5.1.1" in gone["last_error"]
    assert left["state"] == "skipped" and "unsubscribed" in left["last_error"]
    assert sorted(r.recipients[0] for r in recorder.received) == [
        "reader0@example.com",
        "reader3@example.com",
        "reader4@example.com",
    ]
    # Nothing is due until the backoff ends: a second run sends nothing again.
    assert Deliverer(ctx).run().states == {}
    later = before + timedelta(hours=2)
    ctx.clock = lambda: later
    assert Deliverer(ctx).run().states == {"planned": 1}
    assert rows(store)["r00001"]["attempts"] == 2


def test_an_email_whose_answer_never_came_is_sent_again_once_with_its_message_id_then_held(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    recorder.replies.clear()
    recorder.vanish = {"reader1@example.com"}
    fill(store, readers(3))
    plan_weekly(ctx)
    before = ctx.clock()
    ctx.clock = lambda: before
    assert Deliverer(ctx).run().states == {"sent": 2, "planned": 1}
    lost = rows(store)["r00001"]
    assert lost["unanswered"] == 1 and "sent again once after 900 s" in lost["last_error"]
    assert lost["available_at"] == before + timedelta(seconds=900)
    assert Deliverer(ctx).run().states == {}  # not before the delay
    later = before + timedelta(seconds=901)
    ctx.clock = lambda: later
    assert Deliverer(ctx).run().states == {"held": 1}
    held = rows(store)["r00001"]
    assert held["state"] == "held" and "digest held release" in held["last_error"]
    copies = [r.data for r in recorder.received if r.recipients == ("reader1@example.com",)]
    assert len(copies) == 2
    assert len({_message_id(copy) for copy in copies}) == 1  # a receiver may drop the copy
    assert [row.id for row in outbox.held_rows(store.engine)] == [held["id"]]


def test_an_email_whose_answer_never_came_is_held_at_once_without_retries(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    recorder.replies.clear()
    recorder.vanish = {"reader0@example.com"}
    email = replace(ctx.settings.email, unknown_outcome=UnknownOutcomeSettings(retries=0))
    ctx.settings = replace(ctx.settings, email=email)
    fill(store, readers(2))
    plan_weekly(ctx)
    assert Deliverer(ctx).run().states == {"sent": 1, "held": 1}


def _message_id(data: bytes) -> str:
    return str(email.message_from_bytes(data, policy=email.policy.default)["Message-ID"])


def test_the_run_pauses_after_failures_in_a_row_and_gives_the_rest_back(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    recorder.replies.update({f"reader{n}@example.com": "421 4.3.2 Try later" for n in range(40)})
    fill(store, readers(40))
    plan_weekly(ctx)
    report = Deliverer(ctx, batch=40).run()
    assert report.paused is not None
    assert "3 email failures in a row" in report.paused and "421 4.3.2" in report.paused
    assert "digest worker" in report.paused  # says what to do
    counts = outbox.state_counts(store.engine)
    assert counts == {"planned": 40}
    tried = [row for row in rows(store).values() if row["attempts"] == 1]
    untried = [row for row in rows(store).values() if row["attempts"] == 0]
    # One connection: the third failure in a row stops the hand-over at once; the rest goes
    # back untouched.
    assert len(tried) == 3
    assert len(untried) == 37 and all(row["last_error"] is None for row in untried)


def test_the_per_hour_limit_is_shared_through_the_database(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    fill(store, readers(30))
    plan_weekly(ctx)
    limited = replace(
        ctx.settings,
        email=replace(ctx.settings.email, rate=replace(ctx.settings.email.rate, per_hour=12)),
    )
    ctx.settings = limited
    first = Deliverer(ctx, batch=5)
    assert (
        first.limiter.hourly_allowance(store.engine, DeliveryChannel.EMAIL, ctx.clock(), 100) == 12
    )
    stop_after_first_wait(first)
    report = first.run()
    # Twelve sent; readers 1 and 2 were refused, which the limit does not count.
    assert report.states == {"sent": 12, "failed": 1, "planned": 1}
    assert (
        outbox.sent_since(store.engine, DeliveryChannel.EMAIL, ctx.clock() - timedelta(hours=1))
        == 12
    )
    assert len(recorder.received) == 12


def stop_after_first_wait(deliverer: Deliverer) -> None:
    """Instead of waiting for the hour to pass, stop the run the first time it would wait."""
    deliverer.stop.wait = lambda timeout=None: deliverer.stop.set() or True  # type: ignore[method-assign]


def test_rate_limiter_paces_by_the_second() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(per_second=5, clock=lambda: now[0], sleep=sleep)
    assert limiter.slices(12) == [5, 5, 2]
    for size in limiter.slices(12):
        limiter.acquire(size)
    # The first five go at once (a full bucket); the next seven need 7/5 of a second.
    assert sum(slept) == pytest.approx(7 / 5)


def test_settings_may_lower_an_adapters_limits_but_not_raise_them() -> None:
    limiter = RateLimiter.combined(50, None, 14, 50_000)
    assert (limiter.per_second, limiter.per_hour) == (14, 50_000)
    assert RateLimiter.combined(None, 100, None, None).per_hour == 100


def test_planning_streams_in_chunks_within_one_transaction(store: Store) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 30, 7, tzinfo=UTC)

    def planned(count: int) -> Iterator[outbox.PlannedDelivery]:
        for n in range(count):
            yield outbox.PlannedDelivery(
                idempotency_key=f"weekly:2026-W48/email/s{n}",
                digest_key="weekly:2026-W48",
                channel=DeliveryChannel.EMAIL,
                target=f"s{n}",
                payload={},
            )

    count = outbox.PLAN_CHUNK * 2 + 7
    assert outbox.plan(store.engine, planned(count), now=now) == count
    assert outbox.plan(store.engine, planned(count + 3), now=now) == 3
    keys = (f"weekly:2026-W48/email/s{n}" for n in range(count + 10))
    assert outbox.count_unplanned(store.engine, keys) == 7


def test_release_gives_rows_back_without_counting_the_attempt(store: Store) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 30, 7, tzinfo=UTC)
    outbox.plan(
        store.engine,
        [
            outbox.PlannedDelivery(f"k{n}", "weekly:2026-W48", DeliveryChannel.EMAIL, f"s{n}", {})
            for n in range(3)
        ],
        now=now,
    )
    claimed = outbox.claim(store.engine, owner="w", limit=3, lease=timedelta(minutes=5), now=now)
    outbox.release(store.engine, claimed[1:], owner="w", now=now)
    outbox.release(store.engine, claimed[:1], owner="someone else", now=now)  # not theirs
    found = rows(store)
    assert (found["s0"]["state"], found["s0"]["attempts"]) == (DeliveryState.CLAIMED, 1)
    assert (found["s1"]["state"], found["s1"]["attempts"]) == (DeliveryState.PLANNED, 0)
    assert found["s2"]["lease_owner"] is None
