"""Subscribers by address: create (double opt-in unless already confirmed elsewhere), get,
change preferences, unsubscribe, forget. Each is the store's own transaction, the one the web
pages and the command line use; fields are checked by the rules of a subscriber list's row."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from digest.errors import InputError, Problem
from digest.ingest.fields import Loc
from digest.ingest.subscribers import subscriber_from, subscriber_record
from digest.models import Subscriber, SubscriberStatus
from digest.names import PersonName
from digest.schedule.confirmations import plan_confirmation
from digest.schedule.ingest import followable
from digest.store import audit
from digest.store.events import emit as emit_event
from digest.store.events import subscriber_event, subscriber_subject
from digest.web.api.models import (
    PreferencesIn,
    SubscriberCreate,
    SubscriberCreated,
    SubscriberOut,
    SubscriberUpdate,
)
from digest.web.api.operations import Answer, ApiError, Call, Operation, invalid, not_found

EMAIL = {"email": "the subscriber's address (any case)"}
IMPORT_SCOPE = "subscribers:import"


def _checked(call: Call, record: dict[str, Any]) -> Subscriber:
    """The subscriber a record makes, by the rules of a subscriber list's row (companies and
    topics that exist included), or 422."""
    problems: list[Problem] = []
    subscriber = subscriber_from(record, Loc("", "body"), problems, followable(call.ctx))
    if subscriber is None or problems:
        raise invalid(problems)
    return subscriber


def _preference_fields(preferences: PreferencesIn | None) -> dict[str, Any]:
    return preferences.model_dump(exclude_none=True) if preferences else {}


def _audit(call: Call, action: str, subscriber_id: str, **values: Any) -> None:
    audit.record(
        call.ctx.store.engine,
        at=call.now,
        actor=call.actor,
        action=action,
        subject=subscriber_subject(subscriber_id),
        **values,
    )


def create_subscriber(call: Call) -> Answer:
    body: SubscriberCreate = call.body
    ctx = call.ctx
    if body.confirmed and not call.token.allows(IMPORT_SCOPE):
        message = (
            f"the token {call.token.name!r} lacks the scope {IMPORT_SCOPE}, needed to add a "
            "confirmed subscriber; leave out confirmed for double opt-in"
        )
        raise ApiError(403, "missing_scope", message)
    wanted = _checked(
        call,
        {
            # Random, never derived from the address: the links of someone forgotten stay dead.
            "id": f"api-{secrets.token_hex(8)}",
            "email": body.email,
            "name": body.name,
            "first_name": body.given_name,
            "last_name": body.family_name,
            "status": (SubscriberStatus.ACTIVE if body.confirmed else SubscriberStatus.PENDING),
            "timezone": body.timezone or ctx.settings.site.timezone,
            **_preference_fields(body.preferences),
        },
    )
    existing = ctx.store.subscriber_by_email(wanted.email)
    if body.confirmed:
        if existing is not None:
            message = f"{wanted.email} is already a subscriber ({existing.status.value})"
            raise ApiError(409, "exists", message)
        try:
            ctx.store.save_subscribers([wanted], call.now)
        except InputError as error:
            raise invalid(error.problems) from None
        with ctx.store.write() as connection:
            emit_event(connection, subscriber_event("subscriber.created", wanted), call.now)
        subscriber, planned = wanted, False
    else:
        found, needs_confirmation = ctx.store.request_subscription(
            email=wanted.email,
            name=PersonName(wanted.name, wanted.given_name, wanted.family_name),
            new_id=wanted.id,
            timezone=wanted.timezone,
            now=ctx.clock(),
            preferences=wanted.preferences,
        )
        if found is None or found.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
            message = (
                f"{wanted.email} bounced or its owner reported our mail as spam: it cannot be "
                "subscribed again this way (only its owner can, through the subscribe form)"
            )
            raise ApiError(409, "undeliverable", message)
        subscriber = found
        planned = needs_confirmation and plan_confirmation(ctx, subscriber)
    _audit(call, "subscriber.create", subscriber.id, after=subscriber_record(subscriber))
    answer = SubscriberCreated(
        subscriber=SubscriberOut.of(subscriber), confirmation_planned=planned
    )
    location = {"Location": f"/api/v1/subscribers/{quote(subscriber.email, safe='@')}"}
    return Answer(201 if existing is None else 200, answer, location)


def _found(call: Call) -> Subscriber:
    email = call.path["email"]
    subscriber = call.ctx.store.subscriber_by_email(email)
    if subscriber is None:
        raise not_found(f"no subscriber has the address {email!r}")
    return subscriber


def get_subscriber(call: Call) -> Answer:
    return Answer(200, SubscriberOut.of(_found(call)))


def update_subscriber(call: Call) -> Answer:
    body: SubscriberUpdate = call.body
    subscriber = _found(call)
    before = subscriber_record(subscriber)
    changed = _checked(
        call,
        {
            **before,
            **({"timezone": body.timezone} if body.timezone is not None else {}),
            **_preference_fields(body.preferences),
        },
    )
    updated = call.ctx.store.update_preferences(
        subscriber.id, changed.preferences, changed.timezone, call.now
    )
    if updated is None:
        raise not_found(f"no subscriber has the address {subscriber.email!r}")
    _audit(
        call, "subscriber.update", subscriber.id, before=before, after=subscriber_record(updated)
    )
    return Answer(200, SubscriberOut.of(updated))


def unsubscribe_subscriber(call: Call) -> Answer:
    subscriber = _found(call)
    left = call.ctx.store.unsubscribe(subscriber.id, call.now)
    if left is None:
        raise not_found(f"no subscriber has the address {subscriber.email!r}")
    _audit(
        call,
        "subscriber.unsubscribe",
        subscriber.id,
        before={"status": subscriber.status.value},
        after={"status": left.status.value},
    )
    return Answer(200, SubscriberOut.of(left))


def forget_subscriber(call: Call) -> Answer:
    email = call.path["email"]
    if "@" not in email:
        raise not_found(f"{email!r} is not an address")
    subscriber = call.ctx.store.subscriber_by_email(email)
    call.ctx.store.forget_subscriber(call.now, email=email)
    # The entry names the subscriber's id only: their address is what was to be forgotten.
    _audit(
        call,
        "subscriber.forget",
        subscriber.id if subscriber else "unknown",
        after={"deleted": subscriber is not None},
    )
    return Answer(204)


_TAG = "subscribers"
operations = [
    Operation(
        "POST",
        "/subscribers",
        "createSubscriber",
        "Add a subscriber: pending, with a confirmation email, unless `confirmed`",
        create_subscriber,
        scope="subscribers:write",
        tag=_TAG,
        body=SubscriberCreate,
        responses={
            201: (SubscriberCreated, "A new subscriber"),
            200: (SubscriberCreated, "The address was known: the subscriber as they are now"),
        },
        errors={409: "The address cannot be subscribed this way, or exists already"},
    ),
    Operation(
        "GET",
        "/subscribers/{email}",
        "getSubscriber",
        "A subscriber by address",
        get_subscriber,
        scope="subscribers:read",
        tag=_TAG,
        path_params=EMAIL,
        responses={200: (SubscriberOut, "The subscriber")},
        errors={404: "No subscriber has that address"},
    ),
    Operation(
        "PATCH",
        "/subscribers/{email}",
        "updateSubscriber",
        "Change a subscriber's preferences or time zone (only the fields given)",
        update_subscriber,
        scope="subscribers:write",
        tag=_TAG,
        body=SubscriberUpdate,
        path_params=EMAIL,
        responses={200: (SubscriberOut, "The subscriber, changed")},
        errors={404: "No subscriber has that address"},
    ),
    Operation(
        "POST",
        "/subscribers/{email}/unsubscribe",
        "unsubscribeSubscriber",
        "Unsubscribe at once; the address is suppressed (a second call changes nothing)",
        unsubscribe_subscriber,
        scope="subscribers:write",
        tag=_TAG,
        path_params=EMAIL,
        responses={200: (SubscriberOut, "The subscriber, unsubscribed")},
        errors={404: "No subscriber has that address"},
    ),
    Operation(
        "DELETE",
        "/subscribers/{email}",
        "forgetSubscriber",
        "Forget an address (GDPR erasure): everything about it is deleted, only its hash stays "
        "on the suppression list",
        forget_subscriber,
        scope="subscribers:write",
        tag=_TAG,
        path_params=EMAIL,
        responses={204: (None, "Forgotten (also when nobody had the address)")},
        errors={404: "Not an address"},
    ),
]
