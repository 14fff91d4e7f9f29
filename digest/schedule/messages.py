"""Outbox email rows → the exact messages their recipients receive.

Used by the deliverer, and by anything that must show a message exactly as it will be sent, so it
imports nothing from delivery/. One builder per process keeps each digest's snapshot and each
compiled variant, so a send compiles MJML once per variant, never once per subscriber.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from digest.compose import weekly_variant
from digest.context import Context
from digest.links import archive_url, preferences_url, unsubscribe_url
from digest.models import Delivery, Digest, DigestKind, Subscriber, SubscriberStatus
from digest.render.email import CompiledEmail, EmailRenderer, Recipient
from digest.render.message import OutgoingEmail, build_message


@dataclass(frozen=True, slots=True)
class Skip:
    """A row that must not be sent, and why."""

    reason: str


def recipient_for(ctx: Context, subscriber: Subscriber, digest_key: str) -> Recipient:
    site = ctx.settings.site
    companies = ctx.store.companies()
    return Recipient(
        email=subscriber.email,
        name=subscriber.name,
        format=subscriber.preferences.format,
        followed=tuple(
            companies[slug].name for slug in subscriber.preferences.companies if slug in companies
        ),
        preferences_url=preferences_url(site, subscriber.id),
        unsubscribe_url=unsubscribe_url(site, subscriber.id),
        archive_url=archive_url(site, digest_key),
    )


def message_id(ctx: Context, idempotency_key: str) -> str:
    """Stable per outbox row, so that a resend carries the same Message-ID."""
    domain = parseaddr(ctx.settings.site.from_address)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class MessageBuilder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.renderer = EmailRenderer(ctx.env, ctx.settings.site)
        self._digests: dict[str, Digest] = {}
        self._compiled: dict[tuple[str, tuple[str, ...]], CompiledEmail] = {}

    def build(self, row: Delivery, now: datetime) -> OutgoingEmail | Skip:
        """The message for a digest row, or why it must not go (checked now, at delivery)."""
        subscriber = self.ctx.store.subscriber(row.target)
        if subscriber is None or subscriber.status is not SubscriberStatus.ACTIVE:
            return Skip(f"subscriber {subscriber.status.value if subscriber else 'forgotten'}")
        compiled = self.compiled_for(row.digest_key, subscriber)
        if compiled is None:
            return Skip("nothing in their topics this week")
        return self.personal_message(row.idempotency_key, subscriber, compiled, now)

    def digest(self, key: str) -> Digest:
        if key not in self._digests:
            digest = self.ctx.store.load_digest(key)
            if digest is None:
                raise LookupError(f"outbox row names digest {key!r}, which is not stored")
            self._digests[key] = digest
        return self._digests[key]

    def compiled_for(self, digest_key: str, subscriber: Subscriber) -> CompiledEmail | None:
        """This subscriber's variant, compiled once per variant, never once per person."""
        digest = self.digest(digest_key)
        topics = subscriber.preferences.topics if digest.kind is DigestKind.WEEKLY else ()
        variant_key = (digest_key, tuple(sorted(topics)))
        if variant_key not in self._compiled:
            variant = weekly_variant(digest, topics)
            if not variant.entries:
                return None
            self._compiled[variant_key] = self.renderer.compile(variant)
        return self._compiled[variant_key]

    def personal_message(
        self, key: str, subscriber: Subscriber, compiled: CompiledEmail, now: datetime
    ) -> OutgoingEmail:
        site = self.ctx.settings.site
        recipient = recipient_for(self.ctx, subscriber, compiled.digest_key)
        identifier = message_id(self.ctx, key)
        data = build_message(
            compiled.personalise(recipient),
            from_address=site.from_address,
            to_name=subscriber.name,
            to_address=subscriber.email,
            message_id=identifier,
            date=now,
            list_id=site.list_id,
            list_name=site.name,
            unsubscribe_url=recipient.unsubscribe_url,
            unsubscribe_mailto=site.unsubscribe_mailto,
        )
        return OutgoingEmail(
            key=key,
            message_id=identifier,
            sender=parseaddr(site.from_address)[1],
            recipient=subscriber.email,
            data=data,
        )
