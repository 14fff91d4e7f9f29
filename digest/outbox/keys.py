"""Idempotency keys: one per (digest, recipient) and per (post, channel). Planning a key that has
a row already adds nothing, so a job run twice plans nothing twice."""

from __future__ import annotations


def email_key(digest_key: str, subscriber_id: str) -> str:
    return f"{digest_key}/email/{subscriber_id}"


def social_key(digest_key: str, channel: str, post_key: str) -> str:
    return f"{digest_key}/social/{channel}/{post_key}"
