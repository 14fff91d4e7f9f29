"""Who gets which digest, and the variant of it each subscriber receives."""

from __future__ import annotations

from dataclasses import replace

from digest.models import Digest, DigestKind, Section, Subscriber, SubscriberStatus


def wants_weekly(subscriber: Subscriber) -> bool:
    return subscriber.status is SubscriberStatus.ACTIVE and subscriber.preferences.weekly


def wants_company_digest(subscriber: Subscriber, company_slug: str) -> bool:
    return (
        subscriber.status is SubscriberStatus.ACTIVE
        and company_slug in subscriber.preferences.companies
    )


def receives(subscriber: Subscriber, digest: Digest) -> bool:
    """Whether the subscriber is in the digest's audience (one subscriber, no query)."""
    if digest.kind is DigestKind.WEEKLY:
        return wants_weekly(subscriber)
    return digest.company is not None and wants_company_digest(subscriber, digest.company.slug)


def weekly_variant(digest: Digest, topics: tuple[str, ...]) -> Digest:
    """The weekly digest cut to the entries touching any of `topics`; all of it when none.

    Entries keep their place and their sections (an editor's order and moves included); a
    subscriber whose topics had no news this week gets a digest with no sections, which the
    caller does not send.
    """
    if digest.kind is not DigestKind.WEEKLY or not topics:
        return digest
    chosen = set(topics)
    sections = (
        Section(section.title, tuple(e for e in section.entries if chosen & set(e.item.topics)))
        for section in digest.sections
    )
    return replace(digest, sections=tuple(section for section in sections if section.entries))
