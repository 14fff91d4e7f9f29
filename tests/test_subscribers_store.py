"""A subscriber's life in the store, on SQLite and PostgreSQL: sign up, confirm, leave, be
forgotten; and the suppression list that keeps imports from bringing anyone back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from digest import outbox
from digest.errors import InputError
from digest.models import DeliveryChannel, Preferences, Subscriber, SubscriberStatus
from digest.names import person_name
from digest.store import Store, schema
from digest.store.rows import email_hash

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADA = Subscriber(id="s1", email="Ada@example.com", name="Ada")
BOB = Subscriber(id="s2", email="bob@example.com", name="Bob")


def test_a_new_address_signs_up_pending(store: Store) -> None:
    subscriber, confirm = store.request_subscription(
        email="New@example.com",
        name=person_name("New"),
        new_id="web-1",
        timezone="Europe/Paris",
        now=NOW,
    )
    assert confirm
    assert subscriber == Subscriber(
        id="web-1",
        email="New@example.com",
        name="New",
        status=SubscriberStatus.PENDING,
        timezone="Europe/Paris",
    )
    assert store.subscriber("web-1") == subscriber
    assert store.subscriber_by_email("NEW@EXAMPLE.COM") == subscriber


def test_an_active_subscriber_signing_up_again_is_left_alone(store: Store) -> None:
    store.save_subscribers([ADA])
    subscriber, confirm = store.request_subscription(
        email="ada@EXAMPLE.com",
        name=person_name("Someone Else"),
        new_id="web-2",
        timezone="UTC",
        now=NOW,
    )
    assert not confirm and subscriber == ADA
    assert store.subscribers() == [ADA]


def test_confirming_activates_only_the_pending(store: Store) -> None:
    store.save_subscribers([ADA])
    store.request_subscription(
        email="p@example.com", name=person_name(""), new_id="web-3", timezone="UTC", now=NOW
    )
    confirmed = store.confirm_subscriber("web-3", NOW)
    assert confirmed is not None and confirmed.status is SubscriberStatus.ACTIVE
    store.unsubscribe("s1", NOW)
    assert store.confirm_subscriber("s1", NOW).status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
    assert store.confirm_subscriber("nobody", NOW) is None


def test_unsubscribing_suppresses_the_address_by_its_hash_only(store: Store) -> None:
    store.save_subscribers([ADA, BOB])
    left = store.unsubscribe("s1", NOW)
    assert left is not None and left.status is SubscriberStatus.UNSUBSCRIBED
    assert store.unsubscribe("s1", NOW) == left  # twice is once
    assert store.suppression_reasons(["ADA@example.com", "bob@example.com"]) == {
        "ada@example.com": "unsubscribed"
    }
    with store.engine.connect() as connection:
        rows = connection.execute(select(schema.suppressions)).all()
    assert [row.email_hash for row in rows] == [email_hash("ada@example.com")]
    assert len(rows[0].email_hash) == 64
    assert store.subscriber("s2").status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]


def test_an_import_cannot_bring_back_a_suppressed_address(store: Store) -> None:
    store.save_subscribers([ADA, BOB])
    store.unsubscribe("s1", NOW)
    store.forget_subscriber(NOW, email="bob@example.com")
    before = store.subscribers()
    gone = SubscriberStatus.UNSUBSCRIBED
    attempts = [
        Subscriber(id="s1", email="ada@example.com", name="Ada"),  # active again: refused
        Subscriber(id="s9", email="BOB@example.com", name="Bob", status=gone),  # forgotten
        Subscriber(id="s3", email="cy@example.com", name="Cy"),  # fine, but all or nothing
    ]
    with pytest.raises(InputError) as caught:
        store.save_subscribers(attempts)
    problems = {problem.record: problem.message for problem in caught.value.problems}
    assert set(problems) == {"s1", "s9"}
    assert "suppression list (unsubscribed)" in problems["s1"]
    assert "was forgotten at its owner's request" in problems["s9"]
    assert store.subscribers() == before
    # The unsubscribed one may be written as unsubscribed (an export imported back).
    unchanged = Subscriber(id="s1", email="ada@example.com", name="Ada L.",
                           status=SubscriberStatus.UNSUBSCRIBED)  # fmt: skip
    store.save_subscribers([unchanged])
    assert store.subscriber("s1") == unchanged


def test_a_forgotten_subscriber_leaves_only_the_hash(store: Store) -> None:
    store.save_subscribers([ADA, BOB])
    rows = [
        outbox.PlannedDelivery(
            idempotency_key=f"weekly:2026-W48/email/{subscriber.id}",
            digest_key="weekly:2026-W48",
            channel=DeliveryChannel.EMAIL,
            target=subscriber.id,
            payload={},
        )
        for subscriber in (ADA, BOB)
    ]
    outbox.plan(store.engine, rows, now=NOW)
    assert store.forget_subscriber(NOW, subscriber_id="s1") == 1
    assert store.subscriber("s1") is None
    with store.engine.connect() as connection:
        targets = list(connection.scalars(select(schema.deliveries.c.target)))
        suppressed = connection.execute(select(schema.suppressions)).all()
    assert targets == ["s2"]
    assert [(row.email_hash, row.reason) for row in suppressed] == [
        (email_hash("ada@example.com"), "forgotten")
    ]
    # An address nobody has is suppressed all the same, for the lists of the future.
    assert store.forget_subscriber(NOW, email="never@example.com") == 0
    assert store.suppression_reasons(["never@example.com"]) == {"never@example.com": "forgotten"}


def test_subscriber_data_holds_their_record_and_messages(store: Store) -> None:
    store.save_subscribers([ADA])
    store.update_preferences(
        "s1",
        Preferences(weekly=False, companies=("openai",), send_hour=6),
        "Asia/Tokyo",
        NOW,
        by_subscriber=True,
    )
    outbox.plan(
        store.engine,
        [
            outbox.PlannedDelivery(
                idempotency_key="confirmation/s1/x",
                digest_key="confirmation",
                channel=DeliveryChannel.EMAIL,
                target="s1",
                payload={"kind": "confirmation"},
            )
        ],
        now=NOW,
    )
    data = store.subscriber_data("s1")
    assert data is not None
    assert data["subscriber"]["email"] == "Ada@example.com"
    assert data["subscriber"]["timezone"] == "Asia/Tokyo"
    assert data["subscriber"]["preferences"] == {
        "weekly": False,
        "companies": ["openai"],
        "topics": [],
        "send_hour": 6,
        "format": "html",
    }
    assert [(m["kind"], m["state"]) for m in data["messages"]] == [("confirmation", "planned")]
    assert store.subscriber_data("nobody") is None


def signed_up(store: Store, subscriber_id: str, days_ago: int) -> None:
    """A sign-up from the form, made `days_ago` days before NOW, with its confirmation row."""
    when = NOW - timedelta(days=days_ago)
    store.request_subscription(
        email=f"{subscriber_id}@example.com", name=person_name(""), new_id=subscriber_id,
        timezone="UTC", now=when,
    )  # fmt: skip
    confirmation = outbox.PlannedDelivery(
        idempotency_key=f"confirmation/{subscriber_id}/x",
        digest_key="confirmation",
        channel=DeliveryChannel.EMAIL,
        target=subscriber_id,
        payload={"kind": "confirmation"},
    )
    outbox.plan(store.engine, [confirmation], now=when)


def test_purging_deletes_sign_ups_pending_for_30_days_and_keeps_the_rest(store: Store) -> None:
    signed_up(store, "web-old", 31)
    signed_up(store, "web-young", 29)
    signed_up(store, "web-confirmed", 40)
    store.confirm_subscriber("web-confirmed", NOW - timedelta(days=39))
    store.save_subscribers([ADA])
    assert store.purge_pending(NOW - timedelta(days=30)) == 1
    assert store.subscriber("web-old") is None
    assert {s.id for s in store.subscribers()} == {"web-young", "web-confirmed", "s1"}
    with store.engine.connect() as connection:
        targets = connection.scalars(select(schema.deliveries.c.target)).all()
    assert sorted(targets) == ["web-confirmed", "web-young"]  # its confirmation went with it
    # Nobody asked to be forgotten: the address may sign up again, and be imported.
    assert store.suppression_reasons(["web-old@example.com"]) == {}
    assert store.purge_pending(NOW - timedelta(days=30)) == 0


def test_the_purge_counts_from_the_latest_sign_up_not_the_record_s_creation(store: Store) -> None:
    """Someone who first signed up long ago and again two days ago (which sets updated_at)."""
    signed_up(store, "web-back", 300)
    with store.engine.begin() as connection:
        table = schema.subscribers
        connection.execute(
            update(table).where(table.c.id == "web-back").values(updated_at=NOW - timedelta(days=2))
        )
    assert store.purge_pending(NOW - timedelta(days=30)) == 0
    assert store.subscriber("web-back") is not None


@pytest.mark.parametrize("status", [SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED])
def test_an_address_that_bounced_or_complained_gets_no_confirmation(
    store: Store, status: SubscriberStatus
) -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    store.mark_undeliverable("gone@example.com", status, now)
    _, confirm = store.request_subscription(
        email="gone@example.com",
        name=person_name("Spam Link"),
        new_id="web-9",
        timezone="UTC",
        now=NOW,
    )
    assert confirm is False
    assert store.subscriber_by_email("gone@example.com") is None


# What the subscriber said wins (issue 12 item 8) -----------------------------------------------

IMPORTED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
FROM_FILE = Preferences(weekly=True, companies=("nvidia",), format="html")
THEIRS = Preferences(weekly=False, companies=("openai",), send_hour=7, format="text")


def test_a_reimport_keeps_what_the_subscriber_chose_on_the_web(store: Store) -> None:
    listed = Subscriber(id="s1", email="ada@example.com", name="Ada", preferences=FROM_FILE)
    store.save_subscribers([listed, BOB], IMPORTED)
    store.update_preferences("s1", THEIRS, "Asia/Tokyo", NOW, by_subscriber=True)
    renamed = Subscriber(
        id="s1", email="ada@example.com", name="Ada L.", preferences=FROM_FILE, timezone="UTC"
    )
    later = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    counts = store.save_subscribers([renamed, BOB], later)
    assert (counts.updated, counts.kept, counts.overwritten) == (2, 1, 0)
    ada = store.subscriber("s1")
    assert ada is not None
    assert (ada.name, ada.preferences, ada.timezone) == ("Ada L.", THEIRS, "Asia/Tokyo")
    # Still theirs at the import after: keeping it did not make it the import's.
    assert store.save_subscribers([renamed], later.replace(day=2)).kept == 1
    # The same choice in the file is nothing to keep.
    same = Subscriber(
        id="s1", email="ada@example.com", name="Ada", preferences=THEIRS, timezone="Asia/Tokyo"
    )
    assert store.save_subscribers([same], later.replace(day=3)).kept == 0


def test_overwrite_replaces_their_choice_and_the_next_import_may_change_it(store: Store) -> None:
    listed = Subscriber(id="s1", email="ada@example.com", name="Ada", preferences=FROM_FILE)
    store.save_subscribers([listed], IMPORTED)
    store.update_preferences("s1", THEIRS, "Asia/Tokyo", NOW, by_subscriber=True)
    later = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    counts = store.save_subscribers([listed], later, overwrite=True)
    assert (counts.kept, counts.overwritten) == (0, 1)
    ada = store.subscriber("s1")
    assert ada is not None and (ada.preferences, ada.timezone) == (FROM_FILE, "")
    other = Subscriber(id="s1", email="ada@example.com", name="Ada", preferences=Preferences())
    assert store.save_subscribers([other], later.replace(day=2)).kept == 0
    assert store.subscriber("s1") == other


def test_only_the_subscribers_own_changes_are_protected(store: Store) -> None:
    listed = Subscriber(id="s1", email="ada@example.com", name="Ada", preferences=FROM_FILE)
    store.save_subscribers([listed], IMPORTED)
    # An operator's change (the API) and a form sent back unchanged are not the subscriber's.
    store.update_preferences("s1", THEIRS, "Asia/Tokyo", NOW)
    store.update_preferences("s1", THEIRS, "Asia/Tokyo", NOW, by_subscriber=True)
    counts = store.save_subscribers([listed], datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert counts.kept == 0
    assert store.subscriber("s1") == listed


def test_an_import_keeps_the_times_it_does_not_set(store: Store) -> None:
    pending = Subscriber(
        id="s1", email="ada@example.com", name="Ada", status=SubscriberStatus.PENDING
    )
    store.save_subscribers([pending], IMPORTED)
    store.confirm_subscriber("s1", NOW)
    store.save_subscribers([ADA], datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    data = store.subscriber_data("s1")
    assert data is not None and data["subscriber"]["confirmed_at"] == NOW.isoformat()
