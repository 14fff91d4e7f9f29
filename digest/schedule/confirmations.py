"""Double opt-in: the confirmation message is an outbox row like any other email.

The web app plans the row (it never sends anything itself); `digest worker` delivers it, and
`MessageBuilder` turns it into the message here, checking the subscriber again at that moment:
someone who confirmed, left or was forgotten since the sign-up gets nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from digest import outbox
from digest.context import Context
from digest.models import DeliveryChannel, Subscriber
from digest.store.ratelimits import DatabaseStorage
from digest.store.rows import email_hash

CONFIRMATION = "confirmation"


# At most one confirmation to an address in any 10 minutes, however often and by whom its
# sign-up is sent (the form, the embedded form, the API, the command line): someone using the
# form to pester an inbox adds nothing, and whoever asks gets the same answer either way.
CONFIRMATION_GAP = timedelta(minutes=10)


def confirmation_key(subscriber_id: str, now: datetime) -> str:
    # Unique per message let through, since two are at least CONFIRMATION_GAP apart.
    return f"{CONFIRMATION}/{subscriber_id}/{now:%Y-%m-%dT%H:%M}"


def plan_confirmation(ctx: Context, subscriber: Subscriber) -> bool:
    """Plan the confirmation for a pending subscriber; False when one was planned for their
    address less than CONFIRMATION_GAP ago."""
    now = ctx.clock()
    # A counter in the store (every process shares it) whose window opens with the message it
    # lets through; the address as its hash, like the suppression list.
    counter = DatabaseStorage(ctx.store.engine, ctx.clock)
    gap = int(CONFIRMATION_GAP.total_seconds())
    if counter.incr(f"{CONFIRMATION}/{email_hash(subscriber.email)}", gap) > 1:
        return False
    row = outbox.PlannedDelivery(
        idempotency_key=confirmation_key(subscriber.id, now),
        digest_key=CONFIRMATION,
        channel=DeliveryChannel.EMAIL,
        target=subscriber.id,
        payload={"kind": CONFIRMATION},
    )
    return outbox.plan(ctx.store.engine, [row], now=now) == 1
