"""A subscriber's life in the store: sign up, confirm, change preferences, leave, be forgotten.

Each function is one transaction. The suppression list holds addresses that must not be mailed
again, only as the SHA-256 of the lower-cased address (`rows.email_hash`):

- unsubscribing adds the address (reason "unsubscribed"); forgetting deletes the subscriber and
  everything stored about them, and leaves only the hash (reason "forgotten");
- an import never makes a suppressed address active or pending again, and never stores a
  forgotten address again (`suppressed_problems`); an imported subscriber who unsubscribed,
  bounced or complained elsewhere is suppressed (`suppress_unmailable`);
- only the person can come back: the web form makes them pending, and confirming from the
  message sent to that address (double opt-in) takes the address off the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from digest.errors import Problem
from digest.models import Consent, DeliveryChannel, Preferences, Subscriber, SubscriberStatus
from digest.names import PersonName
from digest.store import codec, engagement, events, schema
from digest.store.engine import dialect_insert, write_transaction
from digest.store.rows import email_hash, email_key, subscriber_from_row, subscriber_row

FORGOTTEN = "forgotten"
UNSUBSCRIBED = "unsubscribed"
_COMING_BACK = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)


def _locked_row(connection: Connection, subscriber_id: str) -> Any:
    # FOR UPDATE on PostgreSQL (SQLite's write transaction already holds the database's lock).
    query = (
        select(schema.subscribers).where(schema.subscribers.c.id == subscriber_id).with_for_update()
    )
    return connection.execute(query).one_or_none()


def subscriber_by_email(engine: Engine, email: str) -> Subscriber | None:
    query = select(schema.subscribers).where(schema.subscribers.c.email_key == email_key(email))
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    return subscriber_from_row(row) if row is not None else None


def request_subscription(
    engine: Engine,
    *,
    email: str,
    name: PersonName,
    new_id: str,
    timezone: str,
    now: datetime,
    preferences: Preferences | None = None,
    own_choice: bool = False,
) -> tuple[Subscriber | None, bool]:
    """A sign-up from the web form: (the subscriber, whether a confirmation should be sent).

    `own_choice`: the person chose `preferences` themselves (the public form), so that a later
    import keeps them as their own change; False when the site chose for them (the API). `now`
    (the application's clock) dates the sign-up: pending ones are purged by it.

    A new address becomes a pending subscriber with id `new_id` and `preferences` (what the form
    chose to follow; the defaults without); a known one that is not active (unsubscribed,
    bounced, never confirmed) becomes pending again. An active subscriber stays as they are and
    gets no message; the form answers the same either way, so it tells nobody who is
    subscribed. An existing subscriber's name and preferences are left alone: whoever typed the
    address has not proved it is theirs yet. An address that bounced or complained gets nothing
    either: mailing it again would bounce again, or go to someone who called our mail spam.
    """
    table = schema.subscribers
    with write_transaction(engine) as connection:
        query = select(table).where(table.c.email_key == email_key(email)).with_for_update()
        row = connection.execute(query).one_or_none()
        if suppression_reasons(connection, [email]).get(email_key(email)) in UNMAILABLE:
            return (subscriber_from_row(row) if row is not None else None), False
        if row is None:
            subscriber = Subscriber(
                id=new_id,
                email=email,
                name=name.name,
                status=SubscriberStatus.PENDING,
                timezone=timezone,
                preferences=preferences or Preferences(),
                given_name=name.given,
                family_name=name.family,
            )
            row_values = subscriber_row(subscriber, now)
            if own_choice:
                row_values["preferences_changed_at"] = now
            connection.execute(table.insert().values(row_values))
            events.emit(connection, events.subscriber_event("subscriber.created", subscriber), now)
            return subscriber, True
        subscriber = subscriber_from_row(row)
        if subscriber.status in (SubscriberStatus.ACTIVE, *UNDELIVERABLE):
            return subscriber, False
        connection.execute(
            update(table)
            .where(table.c.id == subscriber.id)
            .values(status=SubscriberStatus.PENDING.value, updated_at=now)
        )
        return subscriber_from_row(_locked_row(connection, subscriber.id)), True


def confirm(engine: Engine, subscriber_id: str, now: datetime) -> Subscriber | None:
    """A pending subscriber becomes active and their address leaves the suppression list.

    Anyone else is returned as they are: an old confirmation link never brings back someone who
    unsubscribed since.
    """
    with write_transaction(engine) as connection:
        row = _locked_row(connection, subscriber_id)
        if row is None or row.status != SubscriberStatus.PENDING.value:
            return subscriber_from_row(row) if row is not None else None
        connection.execute(
            update(schema.subscribers)
            .where(schema.subscribers.c.id == subscriber_id)
            .values(
                status=SubscriberStatus.ACTIVE.value,
                confirmed_at=now,
                unsubscribed_at=None,
                updated_at=now,
            )
        )
        connection.execute(
            delete(schema.suppressions).where(
                schema.suppressions.c.email_hash == email_hash(row.email)
            )
        )
        confirmed = subscriber_from_row(_locked_row(connection, subscriber_id))
        events.emit(connection, events.subscriber_event("subscriber.confirmed", confirmed), now)
        return confirmed


def unsubscribe(engine: Engine, subscriber_id: str, now: datetime) -> Subscriber | None:
    """Unsubscribed at once, and the address suppressed; a second call changes nothing."""
    with write_transaction(engine) as connection:
        row = _locked_row(connection, subscriber_id)
        if row is None:
            return None
        leaving = row.status != SubscriberStatus.UNSUBSCRIBED.value
        if leaving:
            connection.execute(
                update(schema.subscribers)
                .where(schema.subscribers.c.id == subscriber_id)
                .values(
                    status=SubscriberStatus.UNSUBSCRIBED.value, unsubscribed_at=now, updated_at=now
                )
            )
        _suppress(engine, connection, row.email, UNSUBSCRIBED, now, replace=False)
        left = subscriber_from_row(_locked_row(connection, subscriber_id))
        if leaving:
            events.emit(connection, events.subscriber_event("subscriber.unsubscribed", left), now)
        return left


# What a provider's bounce or complaint makes of an address: its status and suppression reason.
UNDELIVERABLE = (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)
UNMAILABLE = frozenset(status.value for status in UNDELIVERABLE)  # as suppression reasons


def mark_undeliverable(
    engine: Engine, email: str, status: SubscriberStatus, now: datetime
) -> Subscriber | None:
    """A hard bounce or a spam complaint: the address is suppressed with that reason and its
    subscriber, if any, gets that status. Returns the subscriber (None when nobody has it).

    A complaint outranks a bounce, so a bounce never turns `complained` back into `bounced`; a
    forgotten address keeps its reason, which also bars imports from storing it again.
    """
    if status not in UNDELIVERABLE:
        raise ValueError(f"not a bounce or complaint status: {status}")
    table = schema.subscribers
    with write_transaction(engine) as connection:
        query = select(table).where(table.c.email_key == email_key(email)).with_for_update()
        row = connection.execute(query).one_or_none()
        keeps = (SubscriberStatus.COMPLAINED.value, status.value)
        if row is not None and row.status not in keeps:
            statement = update(table).where(table.c.id == row.id)
            connection.execute(statement.values(status=status.value, updated_at=now))
            # A complaint ends the subscription as surely as the link in the footer does; its
            # status says which it was.
            kind = (
                "subscriber.bounced"
                if status is SubscriberStatus.BOUNCED
                else "subscriber.unsubscribed"
            )
            changed = subscriber_from_row(_locked_row(connection, row.id))
            events.emit(connection, events.subscriber_event(kind, changed), now)
        reasons = suppression_reasons(connection, [email])
        if reasons.get(email_key(email)) not in (FORGOTTEN, SubscriberStatus.COMPLAINED.value):
            _suppress(engine, connection, email, status.value, now, replace=True)
        return subscriber_from_row(_locked_row(connection, row.id)) if row is not None else None


def update_preferences(
    engine: Engine,
    subscriber_id: str,
    preferences: Preferences,
    timezone: str,
    now: datetime,
    *,
    by_subscriber: bool,
) -> Subscriber | None:
    """New preferences and time zone. `by_subscriber`: the person chose them (the web form), so
    a re-import keeps them (`preferences_changed_at`); a form sent back unchanged changes
    nothing of the sort."""
    with write_transaction(engine) as connection:
        row = _locked_row(connection, subscriber_id)
        if row is None:
            return None
        values: dict[str, Any] = {
            "preferences": codec.preferences_to_dict(preferences),
            "timezone": timezone,
            "updated_at": now,
        }
        before = subscriber_from_row(row)
        if by_subscriber and (before.preferences, before.timezone) != (preferences, timezone):
            values["preferences_changed_at"] = now
        connection.execute(
            update(schema.subscribers)
            .where(schema.subscribers.c.id == subscriber_id)
            .values(values)
        )
        return subscriber_from_row(_locked_row(connection, subscriber_id))


def imported_rows(
    connection: Connection,
    subscribers: Sequence[Subscriber],
    now: datetime,
    *,
    overwrite: bool,
    consents: Mapping[str, Consent],
) -> tuple[list[dict[str, Any]], int, int]:
    """The rows an import writes, and how many subscribers' own changes it kept or overwrote.

    What the subscriber said wins: preferences (and time zone) they changed themself after an
    import last wrote theirs stay as they are, unless `overwrite`. Only a difference counts, and
    a kept choice stays theirs for the imports after this one too. Times the store keeps
    (confirmed, unsubscribed, opted in, changed) are carried over, not cleared, unless the
    subscriber's `consents` give them.
    """
    table = schema.subscribers
    stored: dict[str, Any] = {}
    ids = [subscriber.id for subscriber in subscribers]
    for start in range(0, len(ids), 500):
        query = select(table).where(table.c.id.in_(ids[start : start + 500])).with_for_update()
        stored.update((row.id, row) for row in connection.execute(query))
    rows, kept, overwritten = [], 0, 0
    for subscriber in subscribers:
        row = subscriber_row(subscriber, now)
        old = stored.get(subscriber.id)
        carried = ("confirmed_at", "unsubscribed_at", "opted_in_at", "preferences_changed_at")
        row.update({column: getattr(old, column, None) for column in carried})
        # Consent's fields are named as the columns are.
        given = asdict(consents.get(subscriber.id, Consent()))
        row.update((name, value) for name, value in given.items() if value is not None)
        row["preferences_imported_at"] = now
        if old is not None:
            before = subscriber_from_row(old)
            changed = (before.preferences, before.timezone) != (
                subscriber.preferences,
                subscriber.timezone,
            )
            theirs = old.preferences_changed_at is not None and (
                old.preferences_imported_at is None
                or old.preferences_changed_at > old.preferences_imported_at
            )
            if theirs and not (changed and overwrite):
                row["preferences"] = old.preferences
                row["timezone"] = old.timezone
                row["preferences_imported_at"] = old.preferences_imported_at
                kept += changed
            elif theirs:
                overwritten += 1
        rows.append(row)
    return rows, kept, overwritten


def suppress_unmailable(
    engine: Engine, connection: Connection, subscribers: Sequence[Subscriber], now: datetime
) -> None:
    """Imported subscribers who left, bounced or complained: their addresses are suppressed
    with that reason (an address already on the list keeps the reason it has)."""
    rows = [
        {
            "email_hash": email_hash(subscriber.email),
            "reason": subscriber.status.value,
            "created_at": now,
        }
        for subscriber in subscribers
        if subscriber.status not in _COMING_BACK
    ]
    if rows:
        statement = dialect_insert(engine, schema.suppressions).on_conflict_do_nothing(
            index_elements=["email_hash"]
        )
        connection.execute(statement, rows)


def subscriber_data(engine: Engine, subscriber_id: str) -> dict[str, Any] | None:
    """Everything stored about one subscriber, JSON-safe and for them to read: their record and
    each message (its digest by title, its state in the outbox's words, ISO dates). Internal
    bookkeeping is left out: a provider's message id can be a file path on the server."""
    subscribers, deliveries, digests = schema.subscribers, schema.deliveries, schema.digests
    with engine.connect() as connection:
        row = connection.execute(
            select(subscribers).where(subscribers.c.id == subscriber_id)
        ).one_or_none()
        if row is None:
            return None
        messages = connection.execute(
            select(deliveries, digests.c.title)
            .outerjoin(digests, digests.c.key == deliveries.c.digest_key)
            .where(
                deliveries.c.channel == DeliveryChannel.EMAIL.value,
                deliveries.c.target == subscriber_id,
            )
            .order_by(deliveries.c.id)
        ).all()
        events = engagement.subscriber_events(connection, subscriber_id)
    record = {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "given_name": row.given_name,
        "family_name": row.family_name,
        "status": row.status,
        "timezone": row.timezone,
        "preferences": dict(row.preferences),
        "created_at": _when(row.created_at),
        "updated_at": _when(row.updated_at),
        "confirmed_at": _when(row.confirmed_at),
        "unsubscribed_at": _when(row.unsubscribed_at),
        "opted_in_at": _when(row.opted_in_at),
        "preferences_changed_at": _when(row.preferences_changed_at),
    }
    return {
        "subscriber": record,
        "messages": [
            {
                # A digest by its title and key; a site notice (a confirmation) by its kind.
                "digest": message.title,
                "digest_key": message.digest_key if message.title is not None else None,
                "kind": (message.payload or {}).get("kind", "digest"),
                "state": message.state,
                "planned_at": _when(message.created_at),
                "finished_at": _when(message.finished_at),
            }
            for message in messages
        ],
        # Only with tracking.per_subscriber: which links of which digest they followed.
        "engagement": events,
    }


def forget(
    engine: Engine, now: datetime, *, subscriber_id: str | None = None, email: str | None = None
) -> int:
    """Delete a subscriber (by id or address), their outbox rows and what they clicked (with
    per-subscriber tracking); keep the address's hash.

    Returns how many subscribers were deleted (0 or 1). With an address, its hash is suppressed
    even when nobody has it, so the operator's request holds for future imports too.
    """
    table = schema.subscribers
    with write_transaction(engine) as connection:
        if subscriber_id is not None:
            row = _locked_row(connection, subscriber_id)
        else:
            assert email is not None
            query = select(table).where(table.c.email_key == email_key(email)).with_for_update()
            row = connection.execute(query).one_or_none()
        address = row.email if row is not None else email
        if row is not None:
            _delete_subscriber(connection, row.id)
        if address is not None:
            _suppress(engine, connection, address, FORGOTTEN, now, replace=True)
        return 1 if row is not None else 0


def _delete_subscriber(connection: Connection, subscriber_id: str) -> None:
    """Their record, their outbox rows, what they clicked and the events about them."""
    connection.execute(
        delete(schema.deliveries).where(
            schema.deliveries.c.channel == DeliveryChannel.EMAIL.value,
            schema.deliveries.c.target == subscriber_id,
        )
    )
    engagement.forget_subscriber(connection, subscriber_id)
    connection.execute(delete(schema.subscribers).where(schema.subscribers.c.id == subscriber_id))
    events.forget_subject(connection, events.subscriber_subject(subscriber_id))


def purge_pending(engine: Engine, before: datetime) -> int:
    """Delete the sign-ups never confirmed and unchanged since `before`; how many.

    A pending subscriber's `updated_at` is their latest sign-up at the earliest (signing up
    again sets it), so someone who came back last week is kept though their record is older.
    Nothing of theirs is left: no hash is suppressed, since nobody asked to be forgotten (an
    address that unsubscribed before keeps the suppression it had).
    """
    table = schema.subscribers
    with write_transaction(engine) as connection:
        query = (
            select(table.c.id)
            .where(table.c.status == SubscriberStatus.PENDING.value, table.c.updated_at < before)
            .with_for_update()
        )
        stale = list(connection.scalars(query))
        for subscriber_id in stale:
            _delete_subscriber(connection, subscriber_id)
    return len(stale)


def suppression_reasons(connection: Connection, emails: Sequence[str]) -> dict[str, str]:
    """{lower-cased address: reason} for those of `emails` on the suppression list."""
    by_hash = {email_hash(email): email_key(email) for email in emails}
    found: dict[str, str] = {}
    hashes = sorted(by_hash)
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        query = select(schema.suppressions.c.email_hash, schema.suppressions.c.reason).where(
            schema.suppressions.c.email_hash.in_(chunk)
        )
        for hashed, reason in connection.execute(query):
            found[by_hash[hashed]] = reason
    return found


def suppressed_problems(connection: Connection, subscribers: Sequence[Subscriber]) -> list[Problem]:
    """A problem for each subscriber an import may not write (see the module's docstring)."""
    reasons = suppression_reasons(connection, [subscriber.email for subscriber in subscribers])
    problems = []
    for subscriber in subscribers:
        reason = reasons.get(email_key(subscriber.email))
        if reason is None:
            continue
        if reason == FORGOTTEN:
            message = (
                f"{subscriber.email} was forgotten at its owner's request; remove the row "
                "(only they can subscribe again, through the subscribe form)"
            )
        elif subscriber.status in _COMING_BACK:
            message = (
                f"{subscriber.email} is on the suppression list ({reason}); an import cannot "
                f"make it {subscriber.status.value}: remove the row or set its status to "
                f"{reason} (only its owner can subscribe again, through the subscribe form)"
            )
        else:
            continue
        problems.append(Problem("subscribers", subscriber.id, "email", message))
    return problems


def suppressed_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(schema.suppressions)) or 0)


def _suppress(
    engine: Engine, connection: Connection, email: str, reason: str, now: datetime, *, replace: bool
) -> None:
    statement = dialect_insert(engine, schema.suppressions).values(
        email_hash=email_hash(email), reason=reason, created_at=now
    )
    if replace:
        statement = statement.on_conflict_do_update(
            index_elements=["email_hash"], set_={"reason": reason, "created_at": now}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["email_hash"])
    connection.execute(statement)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
