"""Subscribers: upsert by id, one address per subscriber in any case."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from digest.errors import InputError
from digest.models import Preferences, Subscriber, SubscriberStatus
from digest.store import Store, SubscriberCounts, schema

ADA = Subscriber(
    id="s1",
    email="Ada@Example.com",
    name="Ada",
    status=SubscriberStatus.ACTIVE,
    timezone="Europe/Paris",
    preferences=Preferences(
        weekly=False, companies=("mistral-ai", "openai"), topics=("Geopolitics",), send_hour=7,
        format="text",
    ),
)  # fmt: skip
BOB = Subscriber(id="s2", email="bob@example.com", name="Bob", status=SubscriberStatus.PENDING)
CY = Subscriber(id="s3", email="cy@example.com", name="Cy", status=SubscriberStatus.BOUNCED)


def test_save_and_read_back(store: Store) -> None:
    assert store.save_subscribers([CY, ADA, BOB]) == SubscriberCounts(3, 0)
    assert store.subscribers() == [ADA, BOB, CY]
    assert store.subscriber("s1") == ADA
    assert store.subscriber("nobody") is None
    active = store.subscribers([SubscriberStatus.ACTIVE, SubscriberStatus.PENDING])
    assert active == [ADA, BOB]
    assert store.subscribers([]) == []


def test_subscribers_read_by_id_for_a_send_are_those_stored(store: Store) -> None:
    # A send's read takes the preferences as stored text and parses each text once: two
    # subscribers with the same preferences, and one whose were changed, read as stored.
    twin = Subscriber(id="s4", email="twin@example.com", name="Twin", preferences=ADA.preferences)
    store.save_subscribers([ADA, BOB, CY, twin])
    assert store.subscribers_by_id(["s4", "s1", "nobody", "s2", "s3"]) == {
        "s1": ADA, "s2": BOB, "s3": CY, "s4": twin
    }  # fmt: skip
    changed = Preferences(companies=("anthropic",), send_hour=None)
    store.update_preferences("s4", changed, "Asia/Tokyo", datetime(2026, 11, 30, tzinfo=UTC))
    assert store.subscribers_by_id(["s4", "s1"]) == {
        "s1": ADA, "s4": dataclasses.replace(twin, preferences=changed, timezone="Asia/Tokyo")
    }  # fmt: skip


def test_upsert_by_id_keeps_created_at(store: Store) -> None:
    store.save_subscribers([ADA, BOB])
    with store.engine.connect() as connection:
        created = connection.scalar(
            select(schema.subscribers.c.created_at).where(schema.subscribers.c.id == "s1")
        )
    moved = Subscriber(
        id="s1", email="ada@new.example", name="Ada L.", status=SubscriberStatus.UNSUBSCRIBED
    )
    assert store.save_subscribers([moved, CY]) == SubscriberCounts(1, 1)
    assert store.subscribers() == [moved, BOB, CY]
    with store.engine.connect() as connection:
        row = connection.execute(
            select(schema.subscribers).where(schema.subscribers.c.id == "s1")
        ).one()
    assert row.created_at == created
    assert row.updated_at >= created
    assert row.email_key == "ada@new.example"
    # Its old address is free again.
    assert store.save_subscribers([Subscriber(id="s9", email="ada@example.com", name="A")])


def test_same_id_again_with_other_case_is_the_same_subscriber(store: Store) -> None:
    store.save_subscribers([ADA])
    again = Subscriber(id="s1", email="ADA@EXAMPLE.COM", name="Ada")
    assert store.save_subscribers([again]) == SubscriberCounts(0, 1)
    assert store.subscriber("s1") == again


def test_an_address_in_another_case_is_refused(store: Store) -> None:
    store.save_subscribers([ADA, BOB])
    before = store.subscribers()
    duplicate = Subscriber(id="s4", email="ada@EXAMPLE.com", name="Imposter")
    with pytest.raises(InputError) as caught:
        store.save_subscribers([CY, duplicate])
    assert "s1" in str(caught.value) and "s4" in str(caught.value)
    assert store.subscribers() == before


def test_two_of_one_batch_with_one_address_are_refused(store: Store) -> None:
    twins = [
        Subscriber(id="a", email="twin@example.com", name="A"),
        Subscriber(id="b", email="Twin@Example.com", name="B"),
    ]
    with pytest.raises(InputError, match=r"Twin@Example\.com .* subscriber a"):
        store.save_subscribers(twins)
    assert store.subscribers() == []


def test_a_swap_of_addresses_writes_nothing(store: Store) -> None:
    """The pre-check lets a swap through; the unique index still refuses it, all-or-nothing."""
    store.save_subscribers([ADA, BOB])
    before = store.subscribers()
    swapped = [
        Subscriber(id="s1", email=BOB.email, name="Ada"),
        Subscriber(id="s2", email=ADA.email, name="Bob"),
    ]
    with pytest.raises(InputError):
        store.save_subscribers(swapped)
    assert store.subscribers() == before


def test_active_subscribers_alike_are_one_profile_with_their_number(store: Store) -> None:
    nvidia = Preferences(companies=("nvidia",), send_hour=8)
    store.save_subscribers(
        [
            Subscriber(id=f"p{n}", email=f"p{n}@example.com", name=f"P{n}", timezone=zone,
                       preferences=preferences, status=status)
            for n, (zone, preferences, status) in enumerate(
                [
                    ("Europe/Paris", nvidia, SubscriberStatus.ACTIVE),
                    ("Europe/Paris", nvidia, SubscriberStatus.ACTIVE),
                    ("Europe/Paris", nvidia, SubscriberStatus.UNSUBSCRIBED),
                    ("Asia/Tokyo", nvidia, SubscriberStatus.ACTIVE),
                    ("Europe/Paris", Preferences(), SubscriberStatus.ACTIVE),
                    ("Europe/Paris", Preferences(), SubscriberStatus.PENDING),
                ]
            )
        ]
    )  # fmt: skip
    found = {
        (alike.timezone, alike.preferences, alike.status): number
        for alike, number in store.active_profiles()
    }
    assert found == {
        ("Europe/Paris", nvidia, SubscriberStatus.ACTIVE): 2,
        ("Asia/Tokyo", nvidia, SubscriberStatus.ACTIVE): 1,
        ("Europe/Paris", Preferences(), SubscriberStatus.ACTIVE): 1,
    }
