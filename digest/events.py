"""Outgoing events: their names, and the secrets their receivers verify them with.

Pure: no I/O. The store records events (`store/events.py`) in the transaction of the change they
report; the outbox delivers them to every endpoint that listens (`delivery/webhook.py`), signed
as Standard Webhooks (https://www.standardwebhooks.com/) specifies: a `whsec_`-prefixed base64
secret per endpoint.
"""

from __future__ import annotations

import base64
import binascii
import secrets

EVENT_TYPES = (
    "digest.planned",  # a digest's emails are in the outbox
    "digest.sent",  # every email of a digest has its outcome
    "delivery.failed",  # one email or post failed for good
    "subscriber.created",
    "subscriber.confirmed",
    "subscriber.unsubscribed",
    "subscriber.bounced",
    "post.published",  # a social post is up
)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for (ValueError when it is not one)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError(f"must be {SECRET_PREFIX} followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("must hold 24 to 64 random bytes (base64 of 32–88 characters)")
    return key


def secret_problem(secret: str) -> str | None:
    try:
        secret_key(secret)
    except ValueError as error:
        return f"{error}; write {SECRET_PREFIX} then `openssl rand -base64 32`"
    return None


def events_problem(events: tuple[str, ...] | list[str]) -> str | None:
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown:
        return f"unknown event {unknown[0]!r}; choose from {', '.join(EVENT_TYPES)}"
    return None
