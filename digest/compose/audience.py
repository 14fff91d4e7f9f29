"""Who gets which digest, and the variant of it each subscriber receives."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from digest.compose.weekly import main_topic
from digest.models import Digest, DigestKind, Entry, Section, Subscriber, SubscriberStatus

# Why a subscriber gets no weekly: planning leaves them out, and a row planned before they
# changed what they follow is skipped, saying so.
NOTHING_FOR_THEM = "nothing this week in their topics or about the companies they follow"


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


def weekly_variant(
    digest: Digest, topics: Collection[str] = (), companies: Collection[str] = ()
) -> Digest:
    """A subscriber's weekly: the digest's entries touching any of `topics` (all of them when
    none), and every entry of the week about a company they follow (slugs in `companies`),
    marked with the names of the companies that brought it in (`Entry.followed`).

    Entries keep their place and their sections (an editor's order and moves included); the
    week's other items about the companies they follow (`company_entries`, ranked below the
    digest's own) follow the entries of their topic's section, or make a section after the
    others. A subscriber with nothing this week gets a digest with no sections, which the
    caller does not send.
    """
    if digest.kind is not DigestKind.WEEKLY or not (topics or companies):
        return digest
    chosen, followed = set(topics), set(companies)

    def because(entry: Entry) -> tuple[str, ...]:
        return tuple(company.name for company in entry.companies if company.slug in followed)

    sections: dict[str, list[Entry]] = {}
    for section in digest.sections:
        kept = []
        for entry in section.entries:
            if not chosen or chosen & set(entry.item.topics):
                kept.append(entry)
            elif names := because(entry):
                kept.append(replace(entry, followed=names))
        if kept:  # a section left empty gives up its place: its best entry was not for them
            sections.setdefault(section.title, []).extend(kept)
    for entry in digest.company_entries:
        if names := because(entry):
            sections.setdefault(main_topic(entry.item), []).append(replace(entry, followed=names))
    return replace(
        digest,
        sections=tuple(Section(title, tuple(kept)) for title, kept in sections.items() if kept),
        company_entries=(),
    )


def variant_signature(variant: Digest) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What tells two subscribers' variants apart: their entries and the marks on them, in
    order (sections follow from them), so equal variants are compiled once."""
    return tuple(
        (f"{section.title}\n{entry.item.id}", entry.followed)
        for section in variant.sections
        for entry in section.entries
    )


class Variants:
    """Each subscriber's variant of one digest (`weekly_variant`; a company digest is the same
    for all), made once per distinct choice of topics and companies: a million subscribers
    share a few thousand."""

    def __init__(self, digest: Digest) -> None:
        self.digest = digest
        self._made: dict[tuple[tuple[str, ...], tuple[str, ...]], Digest] = {}

    def of(self, subscriber: Subscriber) -> Digest:
        if self.digest.kind is not DigestKind.WEEKLY:
            return self.digest
        preferences = subscriber.preferences
        key = (preferences.topics, preferences.companies)  # as stored: cheap to hash
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = weekly_variant(self.digest, *key)
        return made
