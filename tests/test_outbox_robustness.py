"""What keeps a worker going when rows, leases, adapters or the server misbehave: a row whose
message cannot be built, rows whose attempts ran out at lease expiry, lease renewal during a long
batch, the unsubscribe check after the rate limiter's wait, configuration failures that pause the
run, and social rows that neither wait behind email limits nor burn attempts waiting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

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
from digest.schedule.deliverer import Deliverer
from digest.store import Store


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def ctx(store: Store, tmp_path: Path, recorder: Recorder) -> Iterator[Context]:
    with smtp_context(store, tmp_path, recorder) as made:
        yield made


def test_a_row_whose_message_cannot_be_built_fails_alone_and_the_batch_goes_on(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    people = readers(4)
    people[1] = replace(people[1], email="jörg@example.de")
    fill(store, people)
    plan_weekly(ctx)
    report = Deliverer(ctx).run()
    assert report.states == {"sent": 3, "failed": 1}
    bad = rows(store)["r00001"]
    assert bad["state"] == "failed"
    assert "jörg@example.de" in bad["last_error"] and "address" in bad["last_error"]
    assert len(recorder.received) == 3


class Clock:
    def __init__(self, ctx: Context) -> None:
        self.now = ctx.clock()
        ctx.clock = lambda: self.now


def slow_adapter(deliverer: Deliverer, clock: Clock, step: timedelta, then: Any) -> None:
    """Each slice takes `step` of the clock; `then()` runs after it (another worker's claim)."""
    send_many = deliverer.email.send_many

    def slow(messages: Any) -> Any:
        results = send_many(messages)
        clock.now += step
        then()
        return results

    deliverer.email.send_many = slow  # type: ignore[method-assign]


def test_the_lease_is_renewed_before_each_slice_so_no_other_worker_takes_the_rows(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    fill(store, readers(48))
    plan_weekly(ctx)
    clock = Clock(ctx)
    deliverer = Deliverer(ctx, batch=48, owner="w1")
    stolen: list[Any] = []

    def other_worker() -> None:
        stolen.extend(
            outbox.claim(store.engine, owner="w2", limit=100, lease=deliverer.lease, now=clock.now)
        )

    # Three slices of 16, each taking two thirds of the lease: the third would start after the
    # batch's first lease ended.
    slow_adapter(deliverer, clock, deliverer.lease * 2 / 3, other_worker)
    assert deliverer.run().states == {"sent": 48}
    assert stolen == []
    assert len(recorder.received) == 48


def test_rows_taken_over_by_another_worker_are_dropped_from_the_slice(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    fill(store, readers(48))
    plan_weekly(ctx)
    clock = Clock(ctx)
    deliverer = Deliverer(ctx, batch=48, owner="w1")
    stolen: list[Any] = []

    acquire = deliverer.limiter.acquire

    def long_wait_then_another_worker(count: int) -> None:
        acquire(count)
        if clock.now > start:  # before the second slice: the batch's lease has run out
            stolen.extend(
                outbox.claim(
                    store.engine, owner="w2", limit=100, lease=deliverer.lease, now=clock.now
                )
            )

    # The first slice outlasts the whole lease: the other worker takes the 32 rows not yet sent.
    start = clock.now
    slow_adapter(deliverer, clock, deliverer.lease * 2, lambda: None)
    deliverer.limiter.acquire = long_wait_then_another_worker  # type: ignore[method-assign]
    assert deliverer.run().states == {"sent": 16}
    assert len(stolen) == 32
    assert len(recorder.received) == 16  # none of the taken rows sent by the first worker too


def test_an_unsubscribe_during_the_rate_limiters_wait_is_honoured(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    people = readers(3)
    fill(store, people)
    plan_weekly(ctx)
    deliverer = Deliverer(ctx)
    acquire = deliverer.limiter.acquire

    def wait_then_unsubscribe(count: int) -> None:
        acquire(count)
        unsubscribe(store, people[1])  # their POST returned while the limiter waited

    deliverer.limiter.acquire = wait_then_unsubscribe  # type: ignore[method-assign]
    assert deliverer.run().states == {"sent": 2, "skipped": 1}
    assert "reader1@example.com" not in {r.recipients[0] for r in recorder.received}
    assert rows(store)["r00001"]["state"] == "skipped"


def test_a_sender_the_server_refuses_pauses_the_run_instead_of_failing_the_list(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    recorder.mail_reply = "553 5.7.1 Sender address rejected: not owned by user"
    fill(store, readers(40))
    plan_weekly(ctx)
    report = Deliverer(ctx, batch=40).run()
    assert report.paused is not None and "MAIL FROM: 553" in report.paused
    assert "3 email failures in a row" in report.paused
    # Nothing is failed for good: every row waits to be sent once the setup is fixed.
    assert outbox.state_counts(store.engine) == {"planned": 40}


def test_rows_a_worker_died_with_go_first_each_alone(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    fill(store, readers(20))
    plan_weekly(ctx)
    clock = Clock(ctx)
    dead = outbox.claim(
        store.engine, owner="dead", limit=20, lease=timedelta(seconds=1), now=clock.now
    )
    in_flight = {row.id for row in dead[4:6]}  # the slice it had handed over when it died
    outbox.record(store.engine, owner="dead", now=clock.now, sending=in_flight)
    clock.now += timedelta(seconds=2)
    deliverer = Deliverer(ctx, batch=20)
    slices: list[list[str]] = []
    send_many = deliverer.email.send_many

    def recording(messages: Any) -> Any:
        slices.append([message.recipient for message in messages])
        return send_many(messages)

    deliverer.email.send_many = recording  # type: ignore[method-assign]
    assert deliverer.run().states == {"sent": 20}
    assert slices[:2] == [["reader4@example.com"], ["reader5@example.com"]]
    assert [len(part) for part in slices[2:]] == [16, 2]
    found = rows(store)
    assert found["r00004"]["attempts"] == 2 and found["r00000"]["attempts"] == 1
