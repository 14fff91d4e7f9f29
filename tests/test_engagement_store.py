"""Hits become counts in the store, on both backends; per-subscriber traces go with `forget`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from digests_for_tests import SITE
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from digest.engagement import HitRecorder, Link, LinkSigner, Reader
from digest.models import Subscriber
from digest.settings import TrackingSettings
from digest.store import Store, schema
from digest.store.engagement import LinkCount, link_counts, reader_counts
from digest.store.engine import create_engine_for

SENT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
TRACKING = TrackingSettings(weekly=True, per_subscriber=True, raw_days=30)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
DIGEST = "weekly:2026-W48"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def link(name: str, *, kind: str = "click", digest_key: str = DIGEST) -> Link:
    target = "" if kind == "open" else f"https://news.example.org/items/{name}"
    return Link(kind, digest_key, "email", name, target, int(SENT.timestamp()))  # type: ignore[arg-type]


def reader(subscriber_id: str) -> Reader:
    return Reader(subscriber_id, int(SENT.timestamp()))


def hit(
    recorder: HitRecorder,
    name: str,
    who: str | None = None,
    *,
    kind: str = "click",
    agent: str = BROWSER,
    method: str = "GET",
    address: str = "203.0.113.7",
) -> None:
    recorder.record(
        link(name, kind=kind),
        reader(who) if who else None,
        method=method,
        user_agent=agent,
        address=address,
    )


def totals(store: Store, digest_key: str = DIGEST) -> dict[tuple[str, str, str], int]:
    return {
        (count.link, count.kind, count.verdict): count.count
        for count in link_counts(store.engine, digest_key)
    }


def recorder_for(store: Store, clock: Clock, tracking: TrackingSettings = TRACKING) -> HitRecorder:
    return HitRecorder(store.engine, SITE, tracking, clock)


def test_hits_are_counted_per_link_and_verdict_and_readers_once(store: Store) -> None:
    clock = Clock(SENT + timedelta(hours=1))
    recorder = recorder_for(store, clock)
    hit(recorder, "item:a", "s1")
    clock.advance(60)
    hit(recorder, "item:a", "s1")  # the same reader again: two clicks, one reader
    hit(recorder, "item:b", "s2")
    hit(recorder, "item:a", "s3", method="HEAD")
    hit(recorder, "open", "s4", kind="open", agent="Mozilla/5.0")
    hit(recorder, "open", "s2", kind="open")
    assert recorder.flush(everything=True) == 6
    assert totals(store) == {
        ("item:a", "click", "reader"): 2,
        ("item:a", "click", "scanner"): 1,
        ("item:b", "click", "reader"): 1,
        ("open", "open", "prefetch"): 1,
        ("open", "open", "reader"): 1,
    }
    assert reader_counts(store.engine, [DIGEST]) == {DIGEST: {"email": 2, "": 2}}
    assert recorder.pending == 0


def test_counts_add_up_over_batches_in_hourly_rows(store: Store) -> None:
    clock = Clock(SENT + timedelta(minutes=30))
    recorder = recorder_for(store, clock)
    hit(recorder, "item:a", "s1")
    recorder.flush(everything=True)
    clock.advance(3600)
    hit(recorder, "item:a", "s2")
    hit(recorder, "item:a", "s3")
    recorder.flush(everything=True)
    with store.engine.connect() as connection:
        hours = connection.execute(
            select(schema.engagement_counts.c.hour, schema.engagement_counts.c.count).order_by(
                schema.engagement_counts.c.hour
            )
        ).all()
    assert [(hour.hour, count) for hour, count in hours] == [(7, 1), (8, 2)]
    assert link_counts(store.engine, DIGEST) == [LinkCount("email", "item:a", "click", "reader", 3)]


def test_hits_wait_for_the_burst_window_before_they_are_written(store: Store) -> None:
    clock = Clock(SENT + timedelta(hours=2))
    recorder = recorder_for(store, clock)
    hit(recorder, "item:a", "s1")
    clock.advance(2)
    assert recorder.flush() == 0  # the hits that would make it a burst may still come
    clock.advance(3)
    assert recorder.flush() == 1
    assert recorder.pending == 0


def test_every_link_at_once_is_a_scanner_even_across_flushes(store: Store) -> None:
    clock = Clock(SENT + timedelta(hours=2))
    recorder = recorder_for(store, clock)
    hit(recorder, "item:a", "s1")
    clock.advance(3)
    hit(recorder, "item:b", "s1")
    hit(recorder, "item:z", "s9")  # another reader at the same moment
    clock.advance(1)
    hit(recorder, "item:c", "s1")
    clock.advance(1)
    assert recorder.flush() == 1  # item:a alone is due; b and c, still held, make it a burst
    clock.advance(10)
    assert recorder.flush() == 3  # b and c, with the written item:a as their context
    assert totals(store) == {
        ("item:a", "click", "scanner"): 1,
        ("item:b", "click", "scanner"): 1,
        ("item:c", "click", "scanner"): 1,
        ("item:z", "click", "reader"): 1,
    }
    assert reader_counts(store.engine, [DIGEST]) == {DIGEST: {"email": 1, "": 1}}


def test_without_per_subscriber_tracking_readers_are_clients_and_nobody_is_named(
    store: Store,
) -> None:
    clock = Clock(SENT + timedelta(hours=2))
    recorder = recorder_for(store, clock, replace(TRACKING, per_subscriber=False))
    hit(recorder, "item:a", address="203.0.113.7")
    hit(recorder, "item:a", address="203.0.113.7")
    hit(recorder, "item:a", address="198.51.100.20")
    recorder.flush(everything=True)
    assert reader_counts(store.engine, [DIGEST]) == {DIGEST: {"email": 2, "": 2}}
    with store.engine.connect() as connection:
        named = connection.scalar(
            select(func.count())
            .select_from(schema.engagement_events)
            .where(schema.engagement_events.c.subscriber_id.is_not(None))
        )
        keys = connection.scalars(select(schema.engagement_events.c.reader_key)).all()
    assert named == 0
    assert not any("203.0.113.7" in key for key in keys)


def test_a_batch_the_store_cannot_take_stays_for_the_next_flush(tmp_path: Path) -> None:
    broken = create_engine_for(f"sqlite:///{tmp_path / 'missing' / 'digest.db'}")
    recorder = HitRecorder(broken, SITE, TRACKING, Clock(SENT + timedelta(hours=1)))
    hit(recorder, "item:a", "s1")
    with pytest.raises(DBAPIError):
        recorder.flush(everything=True)
    assert recorder.pending == 1
    broken.dispose()


def test_forget_erases_a_subscribers_events_and_reader_rows(store: Store) -> None:
    store.save_subscribers(
        [
            Subscriber(id="s1", email="ada@example.com", name="Ada"),
            Subscriber(id="s2", email="g@example.com", name="G"),
        ]
    )
    clock = Clock(SENT + timedelta(hours=1))
    recorder = recorder_for(store, clock)
    hit(recorder, "item:a", "s1")
    hit(recorder, "open", "s1", kind="open")
    hit(recorder, "item:b", "s2")
    recorder.flush(everything=True)
    data = store.subscriber_data("s1")
    assert data is not None
    assert [(event["link"], event["counted_as"]) for event in data["engagement"]] == [
        ("item:a", "reader"),
        ("open", "reader"),
    ]

    assert store.forget_subscriber(clock(), subscriber_id="s1") == 1

    with store.engine.connect() as connection:
        for table in (schema.engagement_events, schema.engagement_readers):
            left = connection.scalars(select(table.c.subscriber_id)).all()
            assert left == ["s2"]
    assert reader_counts(store.engine, [DIGEST]) == {DIGEST: {"email": 1, "": 1}}
    assert totals(store)[("item:a", "click", "reader")] == 1  # the counts name nobody


def test_tokens_from_the_signer_feed_the_recorder(store: Store) -> None:
    signer = LinkSigner.for_site(SITE)
    token = signer.link_token(link("item:a"))
    genuine = signer.read_link(token)
    assert genuine is not None
    recorder = recorder_for(store, Clock(SENT + timedelta(hours=1)))
    recorder.record(genuine, None, method="GET", user_agent=BROWSER, address="203.0.113.7")
    recorder.flush(everything=True)
    assert totals(store) == {("item:a", "click", "reader"): 1}
