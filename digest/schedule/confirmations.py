"""Double opt-in: the confirmation message is an outbox row like any other email.

The web app plans the row (it never sends anything itself); `digest worker` delivers it, and
`MessageBuilder` turns it into the message here, checking the subscriber again at that moment:
someone who confirmed, left or was forgotten since the sign-up gets nothing.
"""

from __future__ import annotations

from datetime import datetime

from digest import outbox
from digest.context import Context
from digest.links import confirm_url, unsubscribe_mailto, unsubscribe_url
from digest.models import Delivery, DeliveryChannel, Subscriber, SubscriberStatus
from digest.render.confirmation import confirmation_parts
from digest.render.dkim import DkimSigner
from digest.render.message import OutgoingEmail, site_message

CONFIRMATION = "confirmation"


def is_confirmation(row: Delivery) -> bool:
    return row.channel is DeliveryChannel.EMAIL and row.payload.get("kind") == CONFIRMATION


def confirmation_key(subscriber_id: str, now: datetime) -> str:
    # One per subscriber and clock hour: the form sent again and again (by them, or by someone
    # using it to pester their inbox) adds no more messages than that.
    return f"{CONFIRMATION}/{subscriber_id}/{now:%Y-%m-%dT%H}"


def plan_confirmation(ctx: Context, subscriber: Subscriber) -> bool:
    """Plan the confirmation for a pending subscriber; False when one went out this hour."""
    now = ctx.clock()
    row = outbox.PlannedDelivery(
        idempotency_key=confirmation_key(subscriber.id, now),
        digest_key=CONFIRMATION,
        channel=DeliveryChannel.EMAIL,
        target=subscriber.id,
        payload={"kind": CONFIRMATION},
    )
    return outbox.plan(ctx.store.engine, [row], now=now) == 1


def skip_reason(subscriber: Subscriber | None) -> str | None:
    """Why a confirmation must not go now, or None."""
    if subscriber is None:
        return "subscriber forgotten"
    if subscriber.status is not SubscriberStatus.PENDING:
        return f"subscriber {subscriber.status.value}, no confirmation needed"
    return None


def confirmation_message(
    ctx: Context,
    row: Delivery,
    subscriber: Subscriber,
    identifier: str,
    now: datetime,
    signer: DkimSigner | None = None,
) -> OutgoingEmail:
    site = ctx.settings.site
    leave = unsubscribe_url(site, subscriber.id)
    parts = confirmation_parts(
        ctx.env,
        site,
        email=subscriber.email,
        given_name=subscriber.given_name,
        confirm_url=confirm_url(site, subscriber.id),
        unsubscribe_url=leave,
        email_format=subscriber.preferences.format,
    )
    return site_message(
        site,
        parts,
        key=row.idempotency_key,
        message_id=identifier,
        to_name=subscriber.name,
        to_address=subscriber.email,
        unsubscribe_url=leave,
        unsubscribe_mailto=unsubscribe_mailto(site, subscriber.id),
        date=now,
        signer=signer,
    )
