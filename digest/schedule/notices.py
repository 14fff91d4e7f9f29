"""Messages the site sends one person, as outbox rows like any other email: the double opt-in
confirmation (planned by `confirmations.plan_confirmation`), and the private link someone asked
for on their preference page to download or delete their data (`plan_private_link`).

The web app plans the row (it never sends anything itself); `digest worker` delivers it, and
`MessageBuilder` turns it into the message here, checking the subscriber again at that moment
(someone who confirmed, left or was forgotten since gets nothing) and dating its link then: the
link's lifetime runs from the message, not from the request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from digest import outbox
from digest.context import Context
from digest.links import timed_url, unsubscribe_mailto, unsubscribe_url
from digest.models import Delivery, DeliveryChannel, Subscriber, SubscriberStatus
from digest.render.dkim import DkimSigner
from digest.render.message import OutgoingEmail, site_message
from digest.render.notice import NoticeKind, notice_parts
from digest.schedule.confirmations import CONFIRMATION

PrivateLink = Literal["data", "delete"]
# A row's payload kind (also its digest_key) → the notice it is.
_KINDS: dict[str, NoticeKind] = {
    CONFIRMATION: "confirm",
    "data-link": "data",
    "delete-link": "delete",
}
_PAYLOAD_KINDS = {notice: payload for payload, notice in _KINDS.items()}
# One private link per subscriber and purpose in each window: the preference page (which a
# forwarded newsletter hands on) cannot be used to fill their inbox.
LINK_WINDOW = timedelta(minutes=10)
_UNMAILABLE = (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


def notice_of(row: Delivery) -> NoticeKind | None:
    """The notice an outbox row is, or None for a digest's or a test-send's row."""
    if row.channel is not DeliveryChannel.EMAIL:
        return None
    return _KINDS.get(str(row.payload.get("kind")))


def private_link_key(subscriber_id: str, purpose: PrivateLink, now: datetime) -> str:
    window = int(LINK_WINDOW.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // window * window, now.tzinfo)
    return f"{_PAYLOAD_KINDS[purpose]}/{subscriber_id}/{start:%Y-%m-%dT%H:%M}"


def plan_private_link(ctx: Context, subscriber: Subscriber, purpose: PrivateLink) -> bool:
    """Plan the message with their link to download or delete their data; False when one was
    planned in this window already."""
    now = ctx.clock()
    kind = _PAYLOAD_KINDS[purpose]
    row = outbox.PlannedDelivery(
        idempotency_key=private_link_key(subscriber.id, purpose, now),
        digest_key=kind,
        channel=DeliveryChannel.EMAIL,
        target=subscriber.id,
        payload={"kind": kind},
    )
    return outbox.plan(ctx.store.engine, [row], now=now) == 1


def skip_reason(notice: NoticeKind, subscriber: Subscriber | None) -> str | None:
    """Why the notice must not go now, or None."""
    if subscriber is None:
        return "subscriber forgotten"
    if notice == "confirm" and subscriber.status is not SubscriberStatus.PENDING:
        return f"subscriber {subscriber.status.value}, no confirmation needed"
    # Someone who left may still download or delete their data; an address that bounced or
    # complained is never mailed.
    if subscriber.status in _UNMAILABLE:
        return f"subscriber {subscriber.status.value}, their address is not mailed"
    return None


def notice_message(
    ctx: Context,
    row: Delivery,
    notice: NoticeKind,
    subscriber: Subscriber,
    identifier: str,
    now: datetime,
    signer: DkimSigner | None = None,
) -> OutgoingEmail:
    site = ctx.settings.site
    leave = unsubscribe_url(site, subscriber.id)
    parts = notice_parts(
        ctx.env,
        site,
        notice,
        email=subscriber.email,
        given_name=subscriber.given_name,
        link_url=timed_url(site, subscriber.id, notice, now),
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
