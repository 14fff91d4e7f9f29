"""Outbox email rows → the exact messages their recipients receive.

Used by the deliverer, and by anything that must show a message exactly as it will be sent, so it
imports nothing from delivery/. One builder per process keeps each digest's snapshot, each
compiled variant and its message frame, so a send compiles MJML once per variant and builds each
subscriber's message by joining bytes; a message the frame cannot take (an unusual name or
address, an HTML line that cannot be folded) is built the slow, general way instead.

With `tracking` on for the digest's kind, a variant is compiled with its tracked links, made as
it is compiled (the moment its messages go out, for the scanner rules); with
`tracking.per_subscriber`, each message's reader token fills one more slot. Test-sends and the
web version are never tracked.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parseaddr

from digest.compose import NOTHING_FOR_THEM, Variants, variant_signature
from digest.context import Context
from digest.engagement.tokens import LinkSigner, TrackedLinks
from digest.links import archive_url, preferences_url, unsubscribe_mailto, unsubscribe_url
from digest.models import Company, Delivery, Digest, Subscriber, SubscriberStatus
from digest.render.dkim import DkimSigner
from digest.render.email import CompiledEmail, EmailRenderer, Recipient
from digest.render.message import (
    CannotFold,
    MessageFrame,
    OutgoingEmail,
    personal_values,
    site_message,
)
from digest.schedule.notices import notice_message, notice_of, skip_reason
from digest.store.codec import digest_from_dict

log = logging.getLogger("digest")


@dataclass(frozen=True, slots=True)
class Skip:
    """A row that must not be sent, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class CannotBuild(Skip):
    """A row whose message cannot be built (an address no header can carry): recorded as
    failed, for good, so that one bad row never stops the batch it came in."""


def _cannot_build(address: str, error: Exception) -> CannotBuild:
    return CannotBuild(
        f"cannot build a message to {address!r}: {error}; correct the address (a non-ASCII "
        "local part, or a character no mail header can carry, cannot be sent)"
    )


def tracked_links(ctx: Context, digest: Digest, now: datetime) -> TrackedLinks | None:
    """The tracked links of the digest's emails made `now`, or None when its kind is not
    tracked (settings `tracking`)."""
    tracking = ctx.settings.tracking
    if not tracking.tracks(digest.kind.value):
        return None
    return TrackedLinks.for_digest(ctx.settings.site, tracking, digest.key, now=now)


def recipient_for(
    ctx: Context,
    subscriber: Subscriber,
    digest_key: str,
    companies: dict[str, Company] | None = None,
    reader: str = "",
) -> Recipient:
    site = ctx.settings.site
    companies = ctx.store.companies() if companies is None else companies
    return Recipient(
        email=subscriber.email,
        name=subscriber.name,
        given_name=subscriber.given_name,
        format=subscriber.preferences.format,
        followed=tuple(
            companies[slug].name for slug in subscriber.preferences.companies if slug in companies
        ),
        preferences_url=preferences_url(site, subscriber.id),
        unsubscribe_url=unsubscribe_url(site, subscriber.id),
        unsubscribe_mailto=unsubscribe_mailto(site, subscriber.id),
        archive_url=archive_url(site, digest_key),
        reader=reader,
    )


def message_id(ctx: Context, idempotency_key: str) -> str:
    """Stable per outbox row, so that a resend carries the same Message-ID."""
    return _message_id(_id_domain(ctx), idempotency_key)


def _id_domain(ctx: Context) -> str:
    return parseaddr(ctx.settings.site.from_address)[1].rpartition("@")[2] or "localhost"


def _message_id(domain: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


COMPILED_KEPT = 64  # compiled digests and variants a builder keeps


@dataclass(frozen=True, slots=True)
class _Variant:
    compiled: CompiledEmail
    frame: MessageFrame | None  # None: this variant's HTML cannot be folded, use the slow path
    per_subscriber: bool  # its tracked links carry each message's reader token


class MessageBuilder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.renderer = EmailRenderer(ctx.env, ctx.settings.site, ctx.settings.campaign)
        self.sender = parseaddr(ctx.settings.site.from_address)[1]
        self.id_domain = _id_domain(ctx)  # parsed once: a million messages share it
        self.signer = DkimSigner.from_settings(ctx.settings)  # email.dkim, if set
        self.link_signer = LinkSigner.for_site(ctx.settings.site)
        self._digests: dict[str, Digest] = {}
        # Per (digest, topics, companies) chosen; per (digest, content); per digest.
        self._variants: dict[tuple[str, tuple[str, ...], tuple[str, ...]], _Variant | None] = {}
        self._by_content: dict[tuple[str, object], _Variant | None] = {}
        self._variants_of: dict[str, Variants] = {}
        # Each digest (or variant) object compiled once: an editor's page, its size and its
        # preview share one compile (an entry holds the digest, so its id stays its own).
        self._compiled: dict[int, tuple[Digest, CompiledEmail]] = {}
        self._companies: dict[str, Company] | None = None

    def build(self, row: Delivery, now: datetime) -> OutgoingEmail | Skip:
        """The message for a digest row, or why it must not go (checked now, at delivery)."""
        return self.build_many([row], now)[0]

    def build_many(self, rows: Sequence[Delivery], now: datetime) -> list[OutgoingEmail | Skip]:
        """Each row's message or Skip, in order; the subscribers are read in one query, now, so
        an address that left, bounced or complained since planning is never sent to. A row whose
        message cannot be built is a `CannotBuild`, never an exception for the whole batch."""
        if any(notice_of(row) for row in rows):  # confirmations, private links: one by one
            others = iter(self.build_many([row for row in rows if not notice_of(row)], now))
            return [self.build_notice(row, now) if notice_of(row) else next(others) for row in rows]
        if any(is_test_send(row) for row in rows):  # an editor's test-sends: rare, one by one
            return [
                self.build_test(row, now) if is_test_send(row) else self.build_many([row], now)[0]
                for row in rows
            ]
        subscribers = self.ctx.store.subscribers_by_id([row.target for row in rows])
        built: list[OutgoingEmail | Skip] = []
        for row in rows:
            subscriber = subscribers.get(row.target)
            if subscriber is None or subscriber.status is not SubscriberStatus.ACTIVE:
                built.append(Skip(f"subscriber {subscriber.status if subscriber else 'forgotten'}"))
                continue
            variant = self.variant_for(row.digest_key, subscriber, now)
            if variant is None:
                built.append(Skip(NOTHING_FOR_THEM))
                continue
            try:
                built.append(self.personal_message(row.idempotency_key, subscriber, variant, now))
            except ValueError as error:  # email.errors' header defects are ValueErrors
                built.append(_cannot_build(subscriber.email, error))
        return built

    def no_longer_wanted(self, rows: Sequence[Delivery]) -> dict[int, str]:
        """The rows (by id) whose recipient must not get their built message any more, and why.

        Read again just before each slice of a batch is sent: an unsubscribe whose POST returned
        while earlier slices went out stops the rest of the batch for that address.
        """
        checked = [row for row in rows if not is_test_send(row)]
        subscribers = self.ctx.store.subscribers_by_id([row.target for row in checked])
        gone: dict[int, str] = {}
        for row in checked:
            subscriber = subscribers.get(row.target)
            notice = notice_of(row)
            if notice is not None:
                reason = skip_reason(notice, subscriber)
            elif subscriber is None or subscriber.status is not SubscriberStatus.ACTIVE:
                reason = f"subscriber {subscriber.status.value if subscriber else 'forgotten'}"
            else:
                reason = None
            if reason is not None:
                gone[row.id] = reason
        return gone

    def digest(self, key: str) -> Digest:
        if key not in self._digests:
            digest = self.ctx.store.load_digest(key)
            if digest is None:
                raise LookupError(f"outbox row names digest {key!r}, which is not stored")
            self._digests[key] = digest
        return self._digests[key]

    def variant_for(
        self, digest_key: str, subscriber: Subscriber, now: datetime
    ) -> _Variant | None:
        """The subscriber's variant compiled, or None when it has nothing for them. Cached by
        what they chose; variants equal in content (`variant_signature`) compile once."""
        preferences = subscriber.preferences
        key = (digest_key, preferences.topics, preferences.companies)
        if key in self._variants:
            return self._variants[key]
        variants = self._variants_of.get(digest_key)
        if variants is None:
            variants = self._variants_of[digest_key] = Variants(self.digest(digest_key))
        variant = variants.of(subscriber)
        content = (digest_key, variant_signature(variant))
        if content not in self._by_content:
            self._by_content[content] = self._compile(variant, now)
        self._variants[key] = self._by_content[content]
        return self._variants[key]

    def compiled(self, digest: Digest) -> CompiledEmail:
        """`digest` compiled, once for this builder."""
        found = self._compiled.get(id(digest))
        if found is None or found[0] is not digest:
            if len(self._compiled) >= COMPILED_KEPT:  # a worker's test-sends each bring one
                del self._compiled[next(iter(self._compiled))]
            found = self._compiled[id(digest)] = (digest, self.renderer.compile(digest))
        return found[1]

    def _compile(self, variant: Digest, now: datetime) -> _Variant | None:
        if not variant.entries:
            return None
        links = tracked_links(self.ctx, variant, now)
        # Tracked links are made as the variant is compiled for its send: never from the cache.
        compiled = (
            self.compiled(variant) if links is None else self.renderer.compile(variant, links=links)
        )
        for warning in compiled.warnings:
            log.warning("%s: %s", variant.key, warning)
        try:
            frame: MessageFrame | None = MessageFrame.for_compiled(
                compiled, self.ctx.settings.site, self.signer
            )
        except CannotFold as error:
            log.warning("%s: %s; its messages are built the slow way", variant.key, error)
            frame = None
        return _Variant(compiled, frame, links is not None and links.per_subscriber)

    @property
    def companies(self) -> dict[str, Company]:
        if self._companies is None:
            self._companies = self.ctx.store.companies()
        return self._companies

    def personal_message(
        self, key: str, subscriber: Subscriber, variant: _Variant, now: datetime
    ) -> OutgoingEmail:
        site = self.ctx.settings.site
        digest_key = variant.compiled.digest_key
        reader = ""
        if variant.per_subscriber:
            reader = self.link_signer.reader_token(digest_key, subscriber.id, int(now.timestamp()))
        recipient = recipient_for(self.ctx, subscriber, digest_key, self.companies, reader)
        identifier = _message_id(self.id_domain, key)
        if variant.frame is not None:
            personal = personal_values(recipient, site_name=site.name, message_id=identifier)
            rendered = variant.frame.render(personal, now)
            if rendered is not None:
                return OutgoingEmail(
                    key,
                    identifier,
                    self.sender,
                    subscriber.email,
                    rendered.data,
                    self.signer,
                    rendered.transparent,
                )
        return site_message(
            site,
            variant.compiled.personalise(recipient),
            key=key,
            message_id=identifier,
            to_name=subscriber.name,
            to_address=subscriber.email,
            unsubscribe_url=recipient.unsubscribe_url,
            unsubscribe_mailto=recipient.unsubscribe_mailto,
            date=now,
            signer=self.signer,
        )

    def build_notice(self, row: Delivery, now: datetime) -> OutgoingEmail | Skip:
        """A site notice (a sign-up's confirmation, a private link), if it is still wanted."""
        notice = notice_of(row)
        assert notice is not None
        subscriber = self.ctx.store.subscriber(row.target)
        reason = skip_reason(notice, subscriber)
        if reason is not None or subscriber is None:
            return Skip(reason or "subscriber forgotten")
        identifier = message_id(self.ctx, row.idempotency_key)
        try:
            return notice_message(self.ctx, row, notice, subscriber, identifier, now, self.signer)
        except ValueError as error:
            return _cannot_build(subscriber.email, error)

    # Editors' test-sends and previews ---------------------------------------------------------

    def use_digest(self, digest: Digest) -> None:
        """Build from this digest, not the stored snapshot: the editor's view of a digest that is
        composed on the fly and not stored yet."""
        self._digests[digest.key] = digest
        self._variants = {key: v for key, v in self._variants.items() if key[0] != digest.key}
        self._by_content = {k: v for k, v in self._by_content.items() if k[0] != digest.key}
        self._variants_of.pop(digest.key, None)

    def build_test(self, row: Delivery, now: datetime) -> OutgoingEmail | Skip:
        """A test-send row (payload `{"kind": "test", "address": …}`, and the digest itself
        when it was not stored): the whole digest, as `test_message` builds it."""
        address = str(row.payload.get("address") or "")
        if not is_plain_address(address):
            return Skip(f"test-send to an unusable address {address!r}")
        content = row.payload.get("digest")
        digest = (
            digest_from_dict(content) if isinstance(content, dict) else self.digest(row.digest_key)
        )
        try:
            return self.test_message(digest, address, key=row.idempotency_key, now=now)
        except ValueError as error:
            return _cannot_build(address, error)

    def test_message(
        self,
        digest: Digest,
        address: str,
        *,
        key: str,
        now: datetime,
        subject_prefix: str = "[Test] ",
    ) -> OutgoingEmail:
        """The digest with every topic, to `address`, its personal links all to the archive (a
        test reader has no subscription), through the same message builder as a real send."""
        site = self.ctx.settings.site
        link = archive_url(site, digest.key)
        reader = Recipient(
            email=address,
            name="",
            format="html",
            followed=(),
            preferences_url=link,
            unsubscribe_url=link,
            archive_url=link,
        )
        parts = self.compiled(digest).personalise(reader)
        return site_message(
            site,
            replace(parts, subject=f"{subject_prefix}{parts.subject}"),
            key=key,
            message_id=message_id(self.ctx, key),
            to_name="",
            to_address=address,
            unsubscribe_url=link,
            date=now,
            signer=self.signer,
        )


TEST_SEND = "test"
_PLAIN_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def is_test_send(row: Delivery) -> bool:
    return row.is_test and row.payload.get("kind") == TEST_SEND


def is_plain_address(address: str) -> bool:
    """A bare address with nothing a header could be bent with (no CR, LF, brackets, commas)."""
    return len(address) <= 254 and _PLAIN_ADDRESS.fullmatch(address) is not None
