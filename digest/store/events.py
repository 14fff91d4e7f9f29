"""Events for the outgoing webhooks, written in the transaction of the change they report.

An event is a row of `webhook_events` written on the caller's connection, so a change is never
without its event, nor an event without its change, whatever crashes when. The outbox later
fans each event out to the endpoints that listen (`schedule/webhooks.py`), one delivery row per
endpoint, and delivers those like any other row. An event with a `key` happens once: emitting
it again (a re-run after a crash) adds nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, false, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from digest.models import Delivery, DeliveryChannel, DeliveryState, Subscriber
from digest.store.schema import deliveries, digests, utcnow, webhook_events

SUBJECT_MAX = 190  # the subject, prefixed, is the fanned-out rows' digest_key (200 characters)
_UNFINISHED = (DeliveryState.PLANNED.value, DeliveryState.CLAIMED.value)


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # one of digest.events.EVENT_TYPES
    subject: str  # whom it is about: a digest key, "subscriber:ID"
    data: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None  # what makes it happen once; None: every emission is an event


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    event_id: str  # the webhook-id receivers deduplicate by
    type: str
    subject: str
    data: Mapping[str, Any]
    created_at: datetime


def emit(connection: Connection, event: Event, now: datetime | None = None) -> bool:
    """Write the event in the connection's transaction; False when its key was emitted before.

    `now` is the change's own time; a change that has none (a sign-up, stamped by the store's
    bookkeeping clock) leaves it out."""
    statement = _insert(connection).values(_event_row(event, now)).returning(webhook_events.c.id)
    return connection.execute(statement).first() is not None


def emit_all(connection: Connection, batch: Sequence[Event], now: datetime | None = None) -> None:
    """`emit` for many events in one executemany (an import of many subscribers)."""
    if batch:
        connection.execute(_insert(connection), [_event_row(event, now) for event in batch])


def _insert(connection: Connection) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(webhook_events).on_conflict_do_nothing(index_elements=["key"])


def _event_row(event: Event, now: datetime | None) -> dict[str, Any]:
    event_id = f"evt_{secrets.token_hex(12)}"
    return {
        "event_id": event_id,
        "key": event.key or f"{event.type}/{event_id}",
        "type": event.type,
        "subject": event.subject[:SUBJECT_MAX],
        "data": dict(event.data),
        "created_at": now or utcnow(),
    }


def subscriber_event(event_type: str, subscriber: Subscriber) -> Event:
    return Event(
        event_type,
        subject=subscriber_subject(subscriber.id),
        data={
            "id": subscriber.id,
            "email": subscriber.email,
            "name": subscriber.name,
            "given_name": subscriber.given_name,
            "family_name": subscriber.family_name,
            "status": subscriber.status.value,
        },
    )


def subscriber_subject(subscriber_id: str) -> str:
    return f"subscriber:{subscriber_id}"


def fanned_out_key(subject: str) -> str:
    """The digest_key of an event's delivery rows: never a digest's own key, so a digest's
    delivery counts never include its webhooks."""
    return f"event:{subject}"


@dataclass(frozen=True, slots=True)
class OutcomeEvents:
    """What rows that just got their outcome may emit: their own events, and the digests to
    look at for digest.sent. Empty (false) for most groups a worker records."""

    events: tuple[Event, ...] = ()
    digests: tuple[str, ...] = ()  # digest.sent, if none of its emails is left

    def __bool__(self) -> bool:
        return bool(self.events or self.digests)


def outcome_events(
    finished: Sequence[tuple[Delivery, DeliveryState]], *, unfinished: Collection[str] = ()
) -> OutcomeEvents:
    """A failed email or post, a published post, and each digest whose emails may all be done
    (not looked for in the `unfinished` digests, of which the caller still holds rows to send)."""
    found: list[Event] = []
    done_digests: set[str] = set()
    for row, state in finished:
        if row.is_test or row.channel is DeliveryChannel.WEBHOOK:
            continue
        if state is DeliveryState.FAILED:
            found.append(_failure(row))
        elif state is DeliveryState.SENT and row.channel is DeliveryChannel.SOCIAL:
            found.append(_published(row))
        if row.channel is DeliveryChannel.EMAIL and state not in (
            DeliveryState.PLANNED,
            DeliveryState.CLAIMED,
        ):
            done_digests.add(row.digest_key)
    return OutcomeEvents(tuple(found), tuple(sorted(done_digests.difference(unfinished))))


def emit_outcome_events(connection: Connection, found: OutcomeEvents, now: datetime) -> None:
    """`outcome_events` written in the transaction that recorded the outcomes."""
    for event in found.events:
        emit(connection, event, now)
    for key in found.digests:
        _emit_if_sent(connection, key, now)


def emit_for_outcomes(
    connection: Connection,
    finished: Sequence[tuple[Delivery, DeliveryState]],
    now: datetime,
    *,
    unfinished: Collection[str] = (),
) -> None:
    """The events of rows that just got their outcome, in the transaction that recorded it."""
    emit_outcome_events(connection, outcome_events(finished, unfinished=unfinished), now)


def _failure(row: Delivery) -> Event:
    email = row.channel is DeliveryChannel.EMAIL
    return Event(
        "delivery.failed",
        # An email's failure names its recipient: forgetting them deletes it.
        subject=subscriber_subject(row.target) if email else row.digest_key,
        data={
            "delivery_id": row.id,
            "digest": row.digest_key,
            "channel": row.channel.value,
            "target": row.target,
            "attempts": row.attempts,
        },
        key=f"delivery.failed/{row.id}/{row.attempts}",
    )


def _published(row: Delivery) -> Event:
    payload = row.payload
    return Event(
        "post.published",
        subject=row.digest_key,
        data={
            "delivery_id": row.id,
            "digest": row.digest_key,
            "channel": row.target,
            "platform": payload.get("platform"),
            "post_key": payload.get("key"),
            "text": payload.get("text"),
        },
        key=f"post.published/{row.id}",
    )


def _emit_if_sent(connection: Connection, digest_key: str, now: datetime) -> None:
    """digest.sent once no email of the digest is left to deliver. On PostgreSQL the check
    waits for another worker checking the same digest, so that two workers finishing its last
    rows at once cannot each see the other's rows unfinished.

    Run after every batch a worker records: while any email is unfinished it costs one probe of
    the counts index, and the digest's rows are counted once, when the last are done (counting
    them after every batch made a send of N rows cost N²)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"sent:{digest_key}"}
        )
    key = f"digest.sent/{digest_key}"
    if connection.execute(select(webhook_events.c.id).where(webhook_events.c.key == key)).first():
        return  # emitted already: it happens once
    digest = connection.execute(
        select(digests.c.kind, digests.c.title).where(digests.c.key == digest_key)
    ).one_or_none()
    if digest is None:
        return  # a confirmation, or rows of something that is not a stored digest
    rows = and_(
        deliveries.c.digest_key == digest_key,
        deliveries.c.is_test == false(),
        deliveries.c.channel == DeliveryChannel.EMAIL.value,
    )
    unfinished = select(deliveries.c.id).where(rows, deliveries.c.state.in_(_UNFINISHED))
    if connection.execute(unfinished.limit(1)).first() is not None:
        return
    counts = dict(
        connection.execute(
            select(deliveries.c.state, func.count()).where(rows).group_by(deliveries.c.state)
        ).all()
    )
    data = {"key": digest_key, "kind": digest.kind, "title": digest.title, "deliveries": counts}
    emit(connection, Event("digest.sent", digest_key, data, key=key), now)


def unfanned(connection: Connection, limit: int, *, after: int = 0) -> list[StoredEvent]:
    """Events not yet planned for their endpoints, oldest first, from the id after `after` (two
    workers may read the same ones: planning them twice adds nothing)."""
    query = (
        select(webhook_events)
        .where(webhook_events.c.fanned_out_at.is_(None), webhook_events.c.id > after)
        .order_by(webhook_events.c.id)
        .limit(limit)
    )
    return [
        StoredEvent(
            id=row.id,
            event_id=row.event_id,
            type=row.type,
            subject=row.subject,
            data=row.data,
            created_at=row.created_at,
        )
        for row in connection.execute(query)
    ]


def mark_fanned_out(connection: Connection, ids: Sequence[int], now: datetime) -> None:
    if ids:
        connection.execute(
            update(webhook_events)
            .where(webhook_events.c.id.in_(list(ids)))
            .values(fanned_out_at=now)
        )


def mark_all_fanned_out(connection: Connection, now: datetime) -> int:
    """Mark every pending event fanned out (no endpoint listens to any); how many."""
    statement = (
        update(webhook_events)
        .where(webhook_events.c.fanned_out_at.is_(None))
        .values(fanned_out_at=now)
    )
    return connection.execute(statement).rowcount


def prune(connection: Connection, before: datetime) -> int:
    """Delete events fanned out before `before` (their delivery rows stay); how many."""
    statement = delete(webhook_events).where(webhook_events.c.fanned_out_at < before)
    return connection.execute(statement).rowcount


def forget_subject(connection: Connection, subject: str) -> None:
    """Delete every event about `subject` and its webhook deliveries (a subscriber forgotten)."""
    subject = subject[:SUBJECT_MAX]
    connection.execute(delete(webhook_events).where(webhook_events.c.subject == subject))
    connection.execute(
        delete(deliveries).where(
            deliveries.c.channel == DeliveryChannel.WEBHOOK.value,
            deliveries.c.digest_key == fanned_out_key(subject),
        )
    )
