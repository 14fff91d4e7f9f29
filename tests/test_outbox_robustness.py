"""What keeps a worker going when rows, leases, adapters or the server misbehave: a row whose
message cannot be built, rows whose attempts ran out at lease expiry, lease renewal during a long
batch, the unsubscribe check after the rate limiter's wait, configuration failures that pause the
run, and social rows that neither wait behind email limits nor burn attempts waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from email_world import (
    context,
    fill,
    plan_weekly,
    readers,
    rows,
    settings_with_email,
    smtp_context,
    smtp_email,
    unsubscribe,
)
from smtp_sink import Recorder, smtp_server

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


@pytest.fixture
def pooled(store: Store, tmp_path: Path, recorder: Recorder) -> Iterator[Context]:
    """A context sending through a pool of four SMTP connections."""
    with smtp_server(recorder=recorder) as server:
        email = smtp_email(server.port, connections=4)
        yield context(settings_with_email(tmp_path, email, "sqlite://"), store)


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
    """Each message takes `step` of the clock; `then(now)` runs at its end (another worker's
    claim), before this worker's clock shows that time."""
    send_after = deliverer.email.send_after

    def slow(message: Any, previous: Any) -> Any:
        result = send_after(message, previous)
        then(clock.now + step)
        clock.now += step
        return result

    deliverer.email.send_after = slow  # type: ignore[method-assign]


def test_the_lease_is_renewed_while_the_rows_are_sent_so_no_other_worker_takes_them(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    fill(store, readers(48))
    plan_weekly(ctx)
    clock = Clock(ctx)
    deliverer = Deliverer(ctx, batch=48, owner="w1")
    stolen: list[Any] = []

    def other_worker(now: datetime) -> None:
        stolen.extend(
            outbox.claim(store.engine, owner="w2", limit=100, lease=deliverer.lease, now=now)
        )

    # Each message takes two thirds of the lease: the whole batch lasts 32 leases.
    slow_adapter(deliverer, clock, deliverer.lease * 2 / 3, other_worker)
    assert deliverer.run().states == {"sent": 48}
    assert stolen == []
    assert len(recorder.received) == 48


def test_rows_taken_over_after_a_stall_longer_than_the_lease_are_not_sent_here(
    ctx: Context, store: Store, recorder: Recorder
) -> None:
    fill(store, readers(48))
    plan_weekly(ctx)
    clock = Clock(ctx)
    deliverer = Deliverer(ctx, batch=48, owner="w1")
    stolen: list[Any] = []

    def another_worker_once(now: datetime) -> None:
        if not stolen:
            stolen.extend(
                outbox.claim(store.engine, owner="w2", limit=100, lease=deliverer.lease, now=now)
            )

    # The first message outlasts the whole lease: the other worker takes every row, the one
    # on the wire too (its answer is not recorded yet).
    slow_adapter(deliverer, clock, deliverer.lease * 2, another_worker_once)
    deliverer.run()
    assert len(stolen) == 48
    # Only the message that was on the wire when the lease ran out went from this worker.
    assert len(recorder.received) == 1
    assert {row.id for row in stolen} == {row["id"] for row in rows(store).values()}


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


def test_rows_a_worker_died_with_go_first_each_alone(pooled: Context, store: Store) -> None:
    fill(store, readers(20))
    ctx = pooled
    plan_weekly(ctx)
    clock = Clock(ctx)
    dead = outbox.claim(
        store.engine, owner="dead", limit=20, lease=timedelta(seconds=1), now=clock.now
    )
    in_flight = {row.id for row in dead[4:6]}  # what it had handed over when it died
    outbox.record(store.engine, owner="dead", now=clock.now, sending=in_flight)
    clock.now += timedelta(seconds=2)
    deliverer = Deliverer(ctx, batch=20)
    sends: list[tuple[str, frozenset[str]]] = []  # each recipient, and who was on the wire
    active: set[str] = set()
    lock = threading.Lock()
    send_after = deliverer.email.send_after

    def watched(message: Any, previous: Any) -> Any:
        with lock:
            sends.append((message.recipient, frozenset(active)))
            active.add(message.recipient)
        time.sleep(0.005)
        try:
            return send_after(message, previous)
        finally:
            with lock:
                active.discard(message.recipient)

    deliverer.email.send_after = watched  # type: ignore[method-assign]
    assert deliverer.run().states == {"sent": 20}
    suspects = {"reader4@example.com", "reader5@example.com"}
    assert sends[:2] == [("reader4@example.com", frozenset()), ("reader5@example.com", frozenset())]
    # Nothing else went while they were on the wire; the rest went several at a time.
    assert not any(others & suspects for _, others in sends[2:])
    assert max(len(others) for _, others in sends[2:]) > 0
    found = rows(store)
    assert found["r00004"]["attempts"] == 2 and found["r00000"]["attempts"] == 1
    assert found["r00004"]["unanswered"] == 1


def test_a_store_that_fails_while_answers_are_recorded_stops_every_connection(
    pooled: Context, store: Store, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store, readers(40))
    ctx = pooled
    plan_weekly(ctx)
    record = outbox.ResultWriter.record
    calls = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("outcomes"))
        if len(calls) == 4:
            raise OSError("disk I/O error")
        return record(*args, **kwargs)

    monkeypatch.setattr(outbox.ResultWriter, "record", failing)
    with pytest.raises(OSError, match="disk I/O error"):
        Deliverer(ctx, batch=40).run()
    # The connections stopped before the server took another message: what it has is what was
    # recorded, and at most one unrecorded message a connection.
    recorded = sum(len(outcomes or ()) for outcomes in calls[:3])
    assert recorded <= len(recorder.received) <= recorded + 4
