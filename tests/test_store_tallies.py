"""The delivery tallies hold what counting the outbox rows would give, through every write."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, select, text, update

from digest import outbox
from digest.models import (
    Delivery,
    DeliveryChannel,
    DeliveryResult,
    DeliveryState,
    DeliveryStatus,
)
from digest.store import Store
from digest.store.schema import deliveries
from digest.store.tallies import tallies

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
WEEKLY, COMPANY = "weekly:2026-W48", "company:nvidia:2026-W48"

Key = tuple[str, str, str, datetime, str]


def counted(store: Store) -> Counter[Key]:
    """The rows counted the slow way: every real row read."""
    columns = deliveries.c
    query = select(
        columns.digest_key, columns.channel, columns.state, columns.available_at, columns.target
    ).where(columns.is_test.is_(False))
    found: Counter[Key] = Counter()
    with store.engine.connect() as connection:
        for key, channel, state, at, target in connection.execute(query):
            found[key, channel, state, at, "" if channel == "email" else target] += 1
    return found


def tallied(store: Store) -> Counter[Key]:
    return Counter(
        {
            (t.digest_key, t.channel.value, t.state.value, t.available_at, t.target): t.rows
            for t in tallies(store.engine, [WEEKLY, COMPANY])
        }
    )


def planned(
    key: str, target: str, *, hour: int = 8, is_test: bool = False
) -> outbox.PlannedDelivery:
    channel = DeliveryChannel.SOCIAL if target.startswith("#") else DeliveryChannel.EMAIL
    return outbox.PlannedDelivery(
        idempotency_key=f"{key}/{channel.value}/{target}",
        digest_key=key,
        channel=channel,
        target=target,
        payload={},
        is_test=is_test,
        available_at=NOW.replace(hour=hour),
    )


def test_the_tallies_follow_a_send_from_planning_to_its_purge(store: Store) -> None:
    rows = [planned(WEEKLY, f"s{n:02d}", hour=7 + n % 3) for n in range(30)]
    rows += [planned(COMPANY, f"s{n:02d}") for n in range(5)]
    rows += [planned(WEEKLY, "#mastodon", hour=7), planned(WEEKLY, "#bluesky", hour=7)]
    rows.append(planned(WEEKLY, "editor@example.org", hour=7, is_test=True))
    outbox.plan(store.engine, rows, now=NOW)
    assert tallied(store) == counted(store)
    assert sum(tallied(store).values()) == 37  # the test-send is not counted

    later = NOW + timedelta(hours=2)
    batch = outbox.claim(store.engine, owner="w1", limit=20, lease=LEASE, now=later)
    assert tallied(store) == counted(store)
    outbox.renew(store.engine, owner="w1", lease=LEASE, now=later)  # nothing a tally counts
    sent = DeliveryResult(DeliveryStatus.SENT, provider_id="p")
    again = DeliveryResult(DeliveryStatus.FAILED, transient=True, retry_after=600)
    answers: list[DeliveryResult | str] = [sent, again, "they left"]
    outcomes: list[tuple[Delivery, DeliveryResult | str]] = [
        (row, answers[index % 3]) for index, row in enumerate(batch)
    ]
    outbox.finish_many(store.engine, outcomes, owner="w1", now=later)
    assert tallied(store) == counted(store)
    assert {state for _, _, state, _, _ in tallied(store)} >= {"sent", "planned", "skipped"}

    # A lease that ran out: the rows are taken over by another worker.
    rest = outbox.claim(store.engine, owner="w2", limit=50, lease=LEASE, now=later)
    outbox.claim(store.engine, owner="w3", limit=50, lease=LEASE, now=later + 2 * LEASE)
    assert rest and tallied(store) == counted(store)

    with store.write() as connection:
        connection.execute(delete(deliveries).where(deliveries.c.target.in_(["s01", "s02"])))
        connection.execute(
            update(deliveries).where(deliveries.c.target == "s03").values(digest_key=COMPANY)
        )
    assert tallied(store) == counted(store)
    with store.write() as connection:
        connection.execute(delete(deliveries))
    assert tallied(store) == Counter()


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_workers_never_wait_on_each_others_counts(store: Store) -> None:
    """Two transactions moving rows of the same digest to the same state: the second does not
    wait for the first to end (each backend adds to counts of its own)."""
    outbox.plan(store.engine, [planned(WEEKLY, f"s{n}") for n in range(2)], now=NOW)

    def to_sent(connection: Connection, target: str) -> None:
        connection.execute(
            update(deliveries).where(deliveries.c.target == target).values(state="sent")
        )

    with store.engine.connect() as first, store.engine.connect() as second, first.begin():
        to_sent(first, "s0")
        with second.begin():
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            to_sent(second, "s1")  # would time out if it waited for `first`
    assert tallied(store) == counted(store)
    assert {(t.state, t.rows) for t in tallies(store.engine, [WEEKLY])} == {(DeliveryState.SENT, 2)}
