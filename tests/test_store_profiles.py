"""The subscriber profile counts hold what grouping the active subscribers would give, through
every write of a subscriber."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from digest.models import Preferences, Subscriber, SubscriberStatus
from digest.names import PersonName
from digest.store import Store, schema

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
NVIDIA = Preferences(companies=("nvidia",), send_hour=8)
# A profile whose key is longer than a PostgreSQL B-tree entry may be: it is hashed.
EVERYTHING = Preferences(companies=tuple(f"company-{n:04d}" for n in range(400)))

Profile = tuple[str, Preferences]


def grouped(store: Store) -> Counter[Profile]:
    """The active subscribers grouped the slow way: every one of them read."""
    return Counter(
        (subscriber.timezone, subscriber.preferences)
        for subscriber in store.subscribers([SubscriberStatus.ACTIVE])
    )


def counted(store: Store) -> Counter[Profile]:
    return Counter(
        {(alike.timezone, alike.preferences): number for alike, number in store.active_profiles()}
    )


def someone(n: int, **fields: Any) -> Subscriber:
    active = Subscriber(
        id=f"s{n}", email=f"s{n}@example.com", name=f"S{n}", status=SubscriberStatus.ACTIVE
    )
    return replace(active, **fields)


def sign_up(store: Store, n: int, zone: str = "Asia/Tokyo") -> None:
    store.request_subscription(
        email=f"s{n}@example.com",
        name=PersonName(f"S{n}"),
        new_id=f"s{n}",
        timezone=zone,
        now=NOW,
        preferences=NVIDIA,
    )


STEPS: list[tuple[str, Callable[[Store], object]]] = [
    (
        "an import of new subscribers, some not active",
        lambda store: store.save_subscribers(
            [someone(n) for n in range(6)]
            + [someone(6, status=SubscriberStatus.PENDING), someone(7, preferences=EVERYTHING)]
            + [someone(8, timezone="Europe/Paris", preferences=NVIDIA)]
        ),
    ),
    ("a sign-up (pending)", lambda store: sign_up(store, 20)),
    ("its confirmation", lambda store: store.confirm_subscriber("s20", NOW)),
    ("a pending one confirmed", lambda store: store.confirm_subscriber("s6", NOW)),
    (
        "new preferences and time zone",
        lambda store: store.update_preferences(
            "s1", NVIDIA, "Europe/Paris", NOW, by_subscriber=True
        ),
    ),
    (
        "preferences sent back unchanged",
        lambda store: store.update_preferences("s1", NVIDIA, "Europe/Paris", NOW),
    ),
    ("an unsubscribe", lambda store: store.unsubscribe("s2", NOW)),
    ("the same unsubscribe again", lambda store: store.unsubscribe("s2", NOW)),
    (
        "a hard bounce",
        lambda store: store.mark_undeliverable("s3@example.com", SubscriberStatus.BOUNCED, NOW),
    ),
    (
        "a complaint after the bounce",
        lambda store: store.mark_undeliverable("s3@example.com", SubscriberStatus.COMPLAINED, NOW),
    ),
    (
        "a re-import: statuses, preferences, zones and a name changed, one new",
        lambda store: store.save_subscribers(
            [
                someone(0, name="Renamed"),
                someone(4, status=SubscriberStatus.UNSUBSCRIBED),
                someone(5, timezone="America/New_York"),
                someone(7, preferences=Preferences()),
                someone(9, preferences=EVERYTHING),
            ],
            NOW,
        ),
    ),
    ("a re-import keeping their choice", lambda store: store.save_subscribers([someone(1)])),
    ("and overwriting it", lambda store: store.save_subscribers([someone(1)], overwrite=True)),
    ("one forgotten by id", lambda store: store.forget_subscriber(NOW, subscriber_id="s0")),
    (
        "one forgotten by address",
        lambda store: store.forget_subscriber(NOW, email="S8@example.com"),
    ),
    ("a new sign-up never confirmed", lambda store: sign_up(store, 21, "Europe/Berlin")),
    ("the unconfirmed purged", lambda store: store.purge_pending(NOW + timedelta(days=60))),
    ("the counts folded", lambda store: store.fold_subscriber_profiles()),
]  # fmt: skip


def test_the_profile_counts_follow_every_write_of_a_subscriber(store: Store) -> None:
    for step, write in STEPS:
        write(store)
        assert counted(store) == grouped(store), step
    assert counted(store)[("", EVERYTHING)] == 1  # the site's zone


def test_a_profile_nobody_has_any_more_is_folded_away(store: Store) -> None:
    store.save_subscribers([someone(1, preferences=NVIDIA), someone(2)])
    store.unsubscribe("s1", NOW)
    profiles = schema.subscriber_profiles
    with store.engine.connect() as connection:
        rows = connection.scalar(select(func.count()).select_from(profiles))
    assert rows == 2  # the count of s1's profile fell to zero and stays until folded
    assert store.fold_subscriber_profiles() >= 1
    with store.engine.connect() as connection:
        left = connection.execute(select(profiles.c.writer, profiles.c.subscribers)).all()
    assert left == [(0, 1)]
    assert counted(store) == grouped(store)


# On PostgreSQL only: SQLite has one writer at a time, so there an unsubscribe waits anyway.
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_an_unsubscribe_does_not_wait_for_an_import_of_the_same_profile(
    database_url: str,
) -> None:
    store = Store.open(database_url)
    try:
        store.save_subscribers([someone(n) for n in range(3)])
        done = threading.Event()
        with store.write() as importing:  # an import's long transaction, same profile
            importing.execute(
                update(schema.subscribers)
                .where(schema.subscribers.c.id == "s0")
                .values(status=SubscriberStatus.UNSUBSCRIBED.value)
            )
            leaving = threading.Thread(
                target=lambda: (store.unsubscribe("s1", NOW), done.set()), daemon=True
            )
            leaving.start()
            assert done.wait(10), "the unsubscribe waited for the import's transaction"
        leaving.join()
        assert counted(store) == grouped(store) == Counter({("", Preferences()): 1})
        assert store.fold_subscriber_profiles() >= 1  # each backend's rows into one
        with store.engine.connect() as connection:
            writers = connection.scalars(select(schema.subscriber_profiles.c.writer)).all()
        assert writers == [0]
        assert counted(store) == grouped(store)
    finally:
        store.close()
