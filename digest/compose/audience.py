"""Who gets which digest, and the variant of it each subscriber receives."""

from __future__ import annotations

from dataclasses import replace

from digest.compose.weekly import group_by_topic
from digest.models import Digest, DigestKind, Subscriber, SubscriberStatus


def wants_weekly(subscriber: Subscriber) -> bool:
    return subscriber.status is SubscriberStatus.ACTIVE and subscriber.preferences.weekly


def wants_company_digest(subscriber: Subscriber, company_slug: str) -> bool:
    return (
        subscriber.status is SubscriberStatus.ACTIVE
        and company_slug in subscriber.preferences.companies
    )


def weekly_variant(digest: Digest, topics: tuple[str, ...]) -> Digest:
    """The weekly digest cut to the entries touching any of `topics`; all of it when none.

    Entries keep their rank and their sections; a subscriber whose topics had no news this week
    gets a digest with no sections, which the caller does not send.
    """
    if digest.kind is not DigestKind.WEEKLY or not topics:
        return digest
    chosen = set(topics)
    entries = [entry for entry in digest.entries if chosen.intersection(entry.item.topics)]
    return replace(digest, sections=group_by_topic(entries))
