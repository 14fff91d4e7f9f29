"""Signed tracking links: `/r/{token}` redirects, `/o/{token}.gif` open pixels.

A link token carries everything about the link: its digest, its channel ("email" or a social
channel's name), its name in the digest ("item:ID", "connection:ID", "profile:SLUG", "post:KEY"),
its target, when it was made and when it stops working. An HMAC-SHA256 of all of it, under a key
derived from the site's secret, ends the token. The redirect checks the HMAC (no database lookup)
and goes only to the target inside it: a token whose target, digest or name was changed is
refused, so the redirect can never send anyone anywhere it was not made to.

With `tracking.per_subscriber`, a second, short reader token follows the link token in the path
(`/r/{token}/{reader}`): the subscriber's id and the moment their message was built, bound to the
digest by its own HMAC. It is one value per message, the same in every link of it, so the link
tokens stay the same for every subscriber of a digest variant (the fast message path compiles
them once) and the reader token is one more slot.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote

from digest.settings import SiteSettings, TrackingSettings

Kind = Literal["click", "open"]
EMAIL_CHANNEL = "email"
OPEN_LINK = "open"  # the name of the open pixel's "link"

_VERSION = "1"
_KIND_CODES: dict[str, Kind] = {"c": "click", "o": "open"}
_CODES = {kind: code for code, kind in _KIND_CODES.items()}
_SIGNATURE_BYTES = 16  # 128 bits: far beyond guessing, and 22 characters in a URL
_READER_SIGNATURE_BYTES = 12
_STAMP = re.compile(r"[0-9a-z]{1,12}")  # base 36 seconds
_MAX_TOKEN = 4096  # longer is not ours: refused before any decoding
_FORBIDDEN = frozenset("\n\r\t ")
# What a URL may hold as it is: anything else (non-ASCII letters) is percent-encoded, so that the
# signed target can go in a Location header unchanged.
_URL_SAFE = ";/?:@&=+$,-_.!~*'()#[]%"


@dataclass(frozen=True, slots=True)
class Link:
    """What a link token says (only ever built from a genuine one, or to make one)."""

    kind: Kind
    digest_key: str
    channel: str
    name: str  # what the link is in the digest: "item:ID", "post:KEY", "open"
    target: str  # where a click goes ("" for the open pixel)
    issued: int  # Unix seconds when it was made: about when the message went out
    expires: int | None = None  # Unix seconds after which it no longer redirects

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now.timestamp() > self.expires


@dataclass(frozen=True, slots=True)
class Reader:
    """Who a per-subscriber link was sent to, and when their message was built."""

    subscriber_id: str
    issued: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Makes and checks link and reader tokens with a key derived from the site's secret (so a
    token of links.py, made for another purpose, is never one of these)."""

    def __init__(self, secret: str) -> None:
        key = hmac.new(secret.encode(), b"digest engagement links v1", hashlib.sha256).digest()
        # A keyed object copied per token: cheaper than setting the key up every time.
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    @classmethod
    def for_site(cls, site: SiteSettings) -> LinkSigner:
        return cls(site.secret_key.reveal())

    def _signature(self, payload: bytes, size: int) -> bytes:
        mac = self._mac.copy()
        mac.update(payload)
        return mac.digest()[:size]

    def link_token(self, link: Link) -> str:
        fields = (link.digest_key, link.channel, link.name, link.target)
        if any(_FORBIDDEN.intersection(value) for value in fields):
            raise ValueError("a tracked link's digest, channel, name and target have no spaces")
        expires = "" if link.expires is None else str(link.expires)
        payload = "\n".join((_VERSION, _CODES[link.kind], *fields, str(link.issued), expires))
        data = payload.encode()
        return f"{_b64(data)}.{_b64(self._signature(data, _SIGNATURE_BYTES))}"

    def read_link(self, token: str) -> Link | None:
        """The link a token was made for, or None if it is not genuine (expired or not)."""
        if len(token) > _MAX_TOKEN:
            return None
        encoded, _, signature = token.rpartition(".")
        try:
            data = _unb64(encoded)
        except (ValueError, binascii.Error):
            return None
        # Compared as text: a second spelling of the same bytes (base64's spare bits) is refused.
        expected = _b64(self._signature(data, _SIGNATURE_BYTES))
        if not _same(expected, signature) or _b64(data) != encoded:
            return None
        try:
            version, code, digest_key, channel, name, target, issued, expires = data.decode().split(
                "\n"
            )
            if version != _VERSION or code not in _KIND_CODES:
                return None
            return Link(
                kind=_KIND_CODES[code],
                digest_key=digest_key,
                channel=channel,
                name=name,
                target=target,
                issued=int(issued),
                expires=int(expires) if expires else None,
            )
        except (UnicodeDecodeError, ValueError):  # signed by us, so only from an older format
            return None

    def reader_token(self, digest_key: str, subscriber_id: str, issued: int) -> str:
        encoded = _b64(subscriber_id.encode())
        stamp = _base36(issued)
        payload = _reader_payload(digest_key, subscriber_id, stamp)
        signature = self._signature(payload, _READER_SIGNATURE_BYTES)
        return f"{encoded}.{stamp}.{_b64(signature)}"

    def read_reader(self, token: str, digest_key: str) -> Reader | None:
        """The reader of a message of `digest_key`, or None if the token is not genuine for it."""
        if len(token) > _MAX_TOKEN:
            return None
        encoded, _, rest = token.partition(".")
        stamp, _, signature = rest.partition(".")
        if _STAMP.fullmatch(stamp) is None:
            return None
        try:
            subscriber_id = _unb64(encoded).decode()
            issued = int(stamp, 36)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        payload = _reader_payload(digest_key, subscriber_id, stamp)
        expected = _b64(self._signature(payload, _READER_SIGNATURE_BYTES))
        if not _same(expected, signature) or _b64(subscriber_id.encode()) != encoded:
            return None
        return Reader(subscriber_id=subscriber_id, issued=issued)


def _same(expected: str, sent: str) -> bool:
    # As bytes: compare_digest refuses text with non-ASCII characters, which a URL can carry.
    return hmac.compare_digest(expected.encode(), sent.encode("utf-8", "replace"))


def _reader_payload(digest_key: str, subscriber_id: str, stamp: str) -> bytes:
    return f"reader\n{digest_key}\n{subscriber_id}\n{stamp}".encode()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


@dataclass
class TrackedLinks:
    """The tracked URLs of one digest on one channel, made at one moment: what render asks for
    each link it writes. `reader` is appended to every URL: a reader token, or the placeholder
    of the slot a per-subscriber message fills with one."""

    base_url: str
    signer: LinkSigner
    digest_key: str
    channel: str
    issued: int
    expires: int | None = None
    reader: str = ""
    per_subscriber: bool = False  # each message's links carry its reader (tracking setting)
    opens: bool = False  # the email carries the open pixel (tracking setting)
    _made: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    @classmethod
    def for_digest(
        cls,
        site: SiteSettings,
        tracking: TrackingSettings,
        digest_key: str,
        *,
        now: datetime,
        channel: str = EMAIL_CHANNEL,
        reader: str = "",
    ) -> TrackedLinks:
        expires = None
        if tracking.link_days is not None:
            expires = int((now + timedelta(days=tracking.link_days)).timestamp())
        return cls(
            base_url=site.base_url.rstrip("/"),
            signer=LinkSigner.for_site(site),
            digest_key=digest_key,
            channel=channel,
            issued=int(now.timestamp()),
            expires=expires,
            reader=reader,
            per_subscriber=tracking.per_subscriber,
            opens=tracking.opens,
        )

    def for_reader(self, reader: str) -> TrackedLinks:
        """The same links with `reader` (a token, or a slot's placeholder) in each."""
        return replace(self, reader=reader)

    def _token(self, kind: Kind, name: str, target: str) -> str:
        link = Link(kind, self.digest_key, self.channel, name, target, self.issued, self.expires)
        return self.signer.link_token(link)

    def _suffix(self) -> str:
        return f"/{self.reader}" if self.reader else ""

    def url(self, target: str, name: str) -> str:
        """The tracked URL of a link to `target`; `target` itself when it cannot be tracked
        (not an http(s) URL: render has already made it inert)."""
        if not target.lower().startswith(("http://", "https://")) or _FORBIDDEN.intersection(
            target
        ):
            return target
        key = (name, target)
        if key not in self._made:  # a headline and its image share one link
            token = self._token("click", name, quote(target, safe=_URL_SAFE))
            self._made[key] = f"{self.base_url}/r/{token}"
        return self._made[key] + self._suffix()

    def pixel(self) -> str:
        """The URL of the open pixel."""
        token = self._token("open", OPEN_LINK, "")
        return f"{self.base_url}/o/{token}{self._suffix()}.gif"
