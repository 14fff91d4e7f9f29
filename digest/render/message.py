"""The MIME message of one personalised email, as RFC 5322 bytes ready for any email adapter.

multipart/alternative with the text part first and the HTML part last (clients show the last part
they can), UTF-8, and the headers a bulk digest needs: List-Id (RFC 2919), an HTTPS
List-Unsubscribe with One-Click POST (RFC 8058). Every header is written by `digest.render.headers`
in both builders below, so untrusted text (a subject from a company name, a subscriber's name)
reads as that text and can never add a line or a header; with `email.dkim` set, every message is
signed (`digest.render.dkim`) once it is complete.
"""

from __future__ import annotations

import base64
import email
import functools
import html
import re
import secrets
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import NamedTuple

from digest.render import headers
from digest.render.dkim import CanonicalBody, DkimSigner, holds_mark, remove_signatures
from digest.render.email import CompiledEmail, EmailParts, Recipient, recipient_values
from digest.settings import SiteSettings


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One message ready for an email adapter: the bytes and their envelope."""

    key: str  # the outbox row's idempotency key
    message_id: str
    sender: str  # envelope sender, a bare address
    recipient: str  # envelope recipient, a bare address
    data: bytes  # the whole RFC 5322 message
    signer: DkimSigner | None = field(default=None, repr=False, compare=False)  # who signed it
    # `smtp_data()` in pieces to join, made by a MessageFrame from literals stuffed once per
    # variant; None: made from `data` when asked for.
    transparent: Sequence[bytes] | None = field(default=None, repr=False, compare=False)

    def seven_bit(self) -> bytes:
        """The message for a server without 8BITMIME: 8bit parts as base64, and signed again
        if it was signed (the signature covered the 8bit body)."""
        if self.signer is None:
            return seven_bit(self.data)
        return self.signer.sign(seven_bit(remove_signatures(self.data)))

    def smtp_data(self) -> bytes:
        """`data` as SMTP DATA content, final dot included (`smtp_data`)."""
        if self.transparent is None:
            return smtp_data(self.data)
        return b"".join(self.transparent)


END_OF_DATA = b".\r\n"


def dot_stuffed(data: bytes, *, starts_line: bool = True) -> bytes:
    """RFC 5321 4.5.2 transparency: a dot that starts a line gets another in front of it.
    `starts_line`: whether the bytes before `data` end a line (or there are none)."""
    if starts_line and data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..")


def smtp_data(message: bytes) -> bytes:
    """A message as SMTP DATA content: dots stuffed, ending in CRLF, then the final dot."""
    end = END_OF_DATA if message.endswith(b"\r\n") else b"\r\n" + END_OF_DATA
    return dot_stuffed(message) + end


def site_message(
    site: SiteSettings,
    parts: EmailParts,
    *,
    key: str,
    message_id: str,
    to_name: str,
    to_address: str,
    unsubscribe_url: str,
    date: datetime,
    unsubscribe_mailto: str | None = None,
    signer: DkimSigner | None = None,
) -> OutgoingEmail:
    """A message from the site to one address, with the site's sender and list headers."""
    data = build_message(
        parts,
        from_address=site.from_address,
        to_name=to_name,
        to_address=to_address,
        message_id=message_id,
        date=date,
        list_id=site.list_id,
        list_name=site.name,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=unsubscribe_mailto,
    )
    return OutgoingEmail(
        key=key,
        message_id=message_id,
        sender=parseaddr(site.from_address)[1],
        recipient=to_address,
        data=signer.sign(data, date) if signer else data,
        signer=signer,
    )


def build_message(
    parts: EmailParts,
    *,
    from_address: str,
    to_name: str,
    to_address: str,
    message_id: str,
    date: datetime,
    list_id: str,
    list_name: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None,
) -> bytes:
    """The message as bytes with CRLF line endings: our headers, the email package's body."""
    head = sender_headers(from_address, parts.subject, list_name, list_id)
    head += recipient_headers(
        to_name,
        headers.ascii_address(to_address),
        _date_line(date),
        message_id,
        unsubscribe_url,
        unsubscribe_mailto,
    )
    body = EmailMessage(policy=SMTP)
    body.set_content(parts.text, subtype="plain", charset="utf-8")
    if parts.html is not None:
        body.add_alternative(parts.html, subtype="html", charset="utf-8")
        for part in body.iter_parts():
            # add_alternative builds the part as a whole message, MIME-Version and all.
            del part["MIME-Version"]
    del body["MIME-Version"]
    return head + _MIME_VERSION + body.as_bytes(policy=SMTP)


_MIME_VERSION = b"MIME-Version: 1.0\r\n"


def sender_headers(from_address: str, subject: str, list_name: str, list_id: str) -> bytes:
    """From, Subject and List-Id: the same for every recipient of a digest variant."""
    name, address = parseaddr(headers.header_text(from_address))
    if not address:
        raise ValueError(f"from_address {from_address!r} has no address in it")
    return (
        headers.mailbox("From", name, headers.ascii_address(address))
        + headers.unstructured("Subject", subject)
        + headers.list_id(list_name, list_id)
    )


def recipient_headers(
    to_name: str,
    addr_spec: str,
    date_line: bytes,
    message_id: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None,
) -> bytes:
    """To, Date, Message-ID and the List-Unsubscribe pair: one recipient's own headers.
    `unsubscribe_mailto` is a whole mailto URI (`digest.links.unsubscribe_mailto`), or None."""
    url = headers.ascii_uri(unsubscribe_url)
    mailto = (headers.ascii_uri(unsubscribe_mailto),) if unsubscribe_mailto else ()
    lines = [
        headers.mailbox("To", to_name, addr_spec),
        date_line,
        headers.message_id("Message-ID", message_id),
        headers.uri_list("List-Unsubscribe", (url, *mailto)),
    ]
    if url.lower().startswith("https://"):
        # RFC 8058: one-click needs an HTTPS URI; with a plain http one (a laptop demo) the
        # header would promise what providers will not do.
        lines.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    return b"".join(lines)


def _date_line(date: datetime) -> bytes:
    if date.tzinfo is None or date.utcoffset() is None:
        # A naive date would be written as -0000, "zone unknown": refuse rather than guess.
        raise ValueError("date must be timezone-aware")
    return f"Date: {format_datetime(date)}\r\n".encode()


# The fast path ----------------------------------------------------------------------------------
#
# `build_message` asks the email package to encode both parts of every message. A bulk send
# repeats the same digest variant thousands of times, so `MessageFrame` does the expensive work
# once per variant: the constant headers, and the whole body cut into byte chunks with CRLF line
# ends around the subscriber's slots (the text part, the HTML part, their MIME framing), long
# HTML lines folded at whitespace between a tag's attributes (a line break there means what the
# space meant). Per subscriber: their headers, one `bytes.join`, and with DKIM one SHA-256 over
# the body's chunks canonicalised beforehand, and the signature; for SMTP, the same pieces again
# with the literals dot-stuffed beforehand (RFC 5321 4.5.2: the MJML's Outlook style block has a
# line starting with a dot, and stuffing the whole message cost a scan and a copy of it, 66 µs),
# unless a value could start or end a line. Both parts go as 8bit, which SMTP servers accept
# only if they announce 8BITMIME (RFC 6152); the SMTP adapter re-encodes (and re-signs) a
# message for a server that does not (`OutgoingEmail.seven_bit`).

# RFC 5322 allows 998 octets per line; stay well under it.
_LINE_LIMIT = 900
# What a subscriber's value may add to a line: a longer value (a very long name or URL) makes
# that one message take the slow path instead of risking an over-long line.
_SLOT_ALLOWANCE = 240
_TEXT_WIDTH = 72


class CannotFold(ValueError):
    """The HTML has a line too long to fold safely: messages of this variant take the slow path."""


@dataclass(frozen=True, slots=True)
class _BodyTemplate:
    literals: tuple[bytes, ...]  # CRLF line ends, folded; literal[0] slot[0] literal[1] …
    slots: tuple[str, ...]
    eight_bit: bool  # a literal has non-ASCII bytes


@dataclass(frozen=True, slots=True)
class _Body:
    """A whole message body, parts and framing, with the slots of every part in order.

    A slot is (group, name): group 0 the text part's values, 1 the HTML part's, 2 the parts'
    Content-Transfer-Encoding values; a new kind of per-subscriber value is a new slot name."""

    literals: tuple[bytes, ...]
    slots: tuple[tuple[int, str], ...]
    # The literals as SMTP DATA carries them, dots stuffed: the first starts a line (after the
    # blank line under the headers), the others follow a value that ends none (`_OPAQUE`).
    transparent: tuple[bytes, ...]

    @classmethod
    def joined(cls, *pieces: bytes | tuple[int, str] | tuple[int, _BodyTemplate]) -> _Body:
        literals, slots = [b""], []
        for piece in pieces:
            if isinstance(piece, bytes):
                literals[-1] += piece
                continue
            group, inner = piece
            if isinstance(inner, str):
                slots.append((group, inner))
                literals.append(b"")
                continue
            literals[-1] += inner.literals[0]
            for slot, literal in zip(inner.slots, inner.literals[1:], strict=True):
                slots.append((group, slot))
                literals.append(literal)
        transparent = [dot_stuffed(literal, starts_line=False) for literal in literals]
        transparent[0] = dot_stuffed(literals[0])
        return cls(literals=tuple(literals), slots=tuple(slots), transparent=tuple(transparent))

    def values(self, groups: tuple[Mapping[str, bytes], ...]) -> list[bytes]:
        return [groups[group][name] for group, name in self.slots]

    def pieces(self, head: bytes, values: list[bytes]) -> list[bytes]:
        """head literal[0] value[0] literal[1] … literal[n]: the message, to join."""
        if len(values) != len(self.slots):
            raise ValueError(f"{len(values)} values for {len(self.slots)} slots")
        # Interleaved by slice assignment: per-subscriber tracked links put a slot in every link,
        # and a Python loop over them was the fast path's largest cost.
        pieces: list[bytes] = [head] * (2 * len(values) + 2)
        pieces[1::2] = self.literals
        pieces[2::2] = values
        return pieces

    def transparent_pieces(self, pieces: list[bytes], data: bytes) -> list[bytes] | None:
        """`pieces` (of the message `data`) made SMTP DATA content in place, by the literals
        stuffed beforehand, or None if a value could start or end a line (`smtp_data` then)."""
        if holds_mark(pieces[2::2], _OPAQUE):
            return None
        pieces[0] = dot_stuffed(pieces[0])
        pieces[1::2] = self.transparent
        pieces.append(END_OF_DATA if data.endswith(b"\r\n") else b"\r\n" + END_OF_DATA)
        return pieces


# What marks a value that may need stuffing, or change its neighbours' (`holds_mark`): starting
# with a dot, a dot after a line break, ending a line, or empty (the literals around it meet).
# Values and literals have CRLF line ends only (`_crlf`): none splits a CRLF at its edge.
_OPAQUE = (b"\x00.", b"\n.", b"\n\x00", b"\x00\x00")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _folded(literals: tuple[str, ...], slots: tuple[str, ...], *, html: bool) -> _BodyTemplate:
    """Literals as CRLF bytes, each line at most _LINE_LIMIT octets with any slot at its allowance.

    Walks the whole stream once, remembering the latest space outside quotes inside a tag
    (or, for want of one, any space outside a tag); when a line grows past the limit, that space
    becomes a line break. Text parts are never folded: a line too long there raises CannotFold.
    """
    encoded = [_crlf(literal).encode() for literal in literals]
    folds: list[list[int]] = [[] for _ in encoded]
    line = 0
    in_tag = False
    quote = 0
    candidate: tuple[int, int, int] | None = None  # (literal, offset, line length after it)
    weak: tuple[int, int, int] | None = None

    def fold() -> None:
        nonlocal line, candidate, weak
        best = candidate or weak
        if best is None or not html:
            raise CannotFold("a line of the message is too long to fold")
        index, offset, after = best
        folds[index].append(offset)
        line -= after
        candidate = weak = None

    for index, chunk in enumerate(encoded):
        for offset, byte in enumerate(chunk):
            if byte == 0x0A:  # LF (after CR): a new line starts
                line, candidate, weak = 0, None, None
                continue
            line += 1
            if quote:
                if byte == quote:
                    quote = 0
            elif in_tag:
                if byte in (0x22, 0x27):
                    quote = byte
                elif byte == 0x3E:
                    in_tag = False
                elif byte == 0x20:
                    candidate = (index, offset, line)
            elif byte == 0x3C:
                # A tag starts with a letter or "/"; "<!" (comments, Outlook's conditional
                # comments, the doctype) is left as it is.
                following = chunk[offset + 1 : offset + 2]
                in_tag = following.isalpha() or following == b"/"
            elif byte == 0x20:
                weak = (index, offset, line)
            if line > _LINE_LIMIT:
                fold()
        if index < len(slots):
            line += _SLOT_ALLOWANCE
            if line > _LINE_LIMIT:
                fold()
    folded = []
    for chunk, offsets in zip(encoded, folds, strict=True):
        if offsets:
            pieces, start = [], 0
            for offset in sorted(offsets):
                pieces.append(chunk[start:offset])
                start = offset + 1  # the space itself becomes the CRLF
            pieces.append(chunk[start:])
            chunk = b"\r\n".join(pieces)
        folded.append(chunk)
    return _BodyTemplate(
        literals=tuple(folded),
        slots=slots,
        eight_bit=any(not chunk.isascii() for chunk in folded),
    )


# What the fast path writes itself; any other address (quoted, non-ASCII) goes the general way.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True, slots=True)
class Personal:
    """One subscriber's values for a frame: the header fields and the slots of the bodies."""

    to_name: str
    to_address: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str | None
    text_values: dict[str, str]  # raw slot values for the text part (already wrapped)
    html_values: dict[str, str] | None  # HTML-escaped slot values; None: a text-only message


def personal_values(recipient: Recipient, *, site_name: str, message_id: str) -> Personal:
    """A recipient's slot values as CompiledEmail.personalise fills them, for a MessageFrame."""
    values = recipient_values(recipient, site_name=site_name)
    text_values = {**values, "followed": _wrapped(values["followed"])}
    html_values = None
    if recipient.format != "text":
        html_values = {slot: html.escape(value, quote=True) for slot, value in values.items()}
    return Personal(
        to_name=recipient.name,
        to_address=recipient.email,
        message_id=message_id,
        unsubscribe_url=recipient.unsubscribe_url,
        unsubscribe_mailto=recipient.unsubscribe_mailto,
        text_values=text_values,
        html_values=html_values,
    )


@functools.lru_cache(maxsize=4096)
def _wrapped(sentence: str) -> str:
    # The same wrapping as the text template's; many subscribers share a sentence, so cache it.
    return textwrap.fill(
        sentence, width=_TEXT_WIDTH, break_long_words=False, break_on_hyphens=False
    )


class Rendered(NamedTuple):
    data: bytes  # the whole message
    transparent: list[bytes] | None  # OutgoingEmail.transparent


class MessageFrame:
    """One digest variant's message with holes for the subscriber: built once, filled per person."""

    def __init__(
        self,
        *,
        subject: str,
        text_literals: tuple[str, ...],
        text_slots: tuple[str, ...],
        html_literals: tuple[str, ...],
        html_slots: tuple[str, ...],
        from_address: str,
        list_id: str,
        list_name: str,
        signer: DkimSigner | None = None,
    ) -> None:
        text = _folded(text_literals, text_slots, html=False)
        html = _folded(html_literals, html_slots, html=True)
        self.head = sender_headers(from_address, subject, list_name, list_id)
        self.signer = signer
        self.eight_bit = (text.eight_bit, html.eight_bit)
        self.boundary = boundary = _boundary(text, html)
        self.alternative_type = (
            b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n'
        )
        self.text_only = _Body.joined((_TEXT, text))
        self.alternative = _Body.joined(
            b"--" + boundary + b"\r\n" + _PART_TYPE % b"plain",
            (_ENCODINGS, "text"),
            b"\r\n\r\n",
            (_TEXT, text),
            b"\r\n--" + boundary + b"\r\n" + _PART_TYPE % b"html",
            (_ENCODINGS, "html"),
            b"\r\n\r\n",
            (_HTML, html),
            b"\r\n--" + boundary + b"--\r\n",
        )
        # What DKIM needs of the bodies, worked out once for the variant.
        self.canonical: tuple[CanonicalBody, CanonicalBody] | None = None
        if signer is not None:
            self.canonical = (
                CanonicalBody(self.text_only.literals),
                CanonicalBody(self.alternative.literals),
            )
        self._date_cache: tuple[datetime, bytes] | None = None

    @classmethod
    def for_compiled(
        cls, compiled: CompiledEmail, site: SiteSettings, signer: DkimSigner | None = None
    ) -> MessageFrame:
        """Raises CannotFold if the HTML cannot be kept under the line limit."""
        return cls(
            subject=compiled.subject,
            text_literals=compiled.text_template.literals,
            text_slots=compiled.text_template.slots,
            html_literals=compiled.html_template.literals,
            html_slots=compiled.html_template.slots,
            from_address=site.from_address,
            list_id=site.list_id,
            list_name=site.name,
            signer=signer,
        )

    def render(self, personal: Personal, date: datetime) -> Rendered | None:
        """The whole message (signed, if the frame has a signer), or None if this subscriber's
        values need the slow path."""
        address = headers.header_text(personal.to_address)
        if not _PLAIN_ADDRESS.fullmatch(address):
            return None
        text_values = _slot_bytes(personal.text_values)
        if text_values is None:
            return None
        html_values = None
        if personal.html_values is not None:
            html_values = _slot_bytes(personal.html_values)
            if html_values is None:
                return None
        values = (text_values, html_values or {})
        if any(self.boundary in value for group in values for value in group.values()):
            return None
        head = self.head + recipient_headers(
            personal.to_name,
            address,
            self._date(date),
            personal.message_id,
            personal.unsubscribe_url,
            personal.unsubscribe_mailto,
        )
        text_encoding = _transfer_encoding(self.eight_bit[0], text_values)
        if html_values is None:
            body = self.text_only
            head += _MIME_VERSION + _PART_TYPE % b"plain" + text_encoding + b"\r\n"
            encodings = {}
        else:
            body = self.alternative
            head += _MIME_VERSION + self.alternative_type
            encodings = {
                "text": text_encoding,
                "html": _transfer_encoding(self.eight_bit[1], html_values),
            }
        chunks = body.values((*values, encodings))
        if self.signer is not None:
            assert self.canonical is not None
            body_hash = self.canonical[html_values is not None].digest(chunks)
            if body_hash is None:  # a value that canonicalises with its neighbours: hash it all
                data = self.signer.sign(b"".join(body.pieces(head + b"\r\n", chunks)), date)
                return Rendered(data, None)
            head = self.signer.signatures(head, body_hash, date) + head
        pieces = body.pieces(head + b"\r\n", chunks)
        data = b"".join(pieces)
        return Rendered(data, body.transparent_pieces(pieces, data))

    def _date(self, date: datetime) -> bytes:
        # One send stamps thousands of messages with the same second: format it once.
        second = date.replace(microsecond=0)
        if self._date_cache is None or self._date_cache[0] != second:
            self._date_cache = (second, _date_line(second))
        return self._date_cache[1]


_TEXT, _HTML, _ENCODINGS = 0, 1, 2  # the groups of a body's slots
_PART_TYPE = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: '


def _slot_bytes(values: dict[str, str]) -> dict[str, bytes] | None:
    encoded = {}
    for slot, value in values.items():
        data = _crlf(value).encode()
        if len(data) > _SLOT_ALLOWANCE:
            return None
        encoded[slot] = data
    return encoded


def _transfer_encoding(eight_bit: bool, values: dict[str, bytes]) -> bytes:
    if eight_bit or not all(value.isascii() for value in values.values()):
        return b"8bit"
    return b"7bit"


def _boundary(*templates: _BodyTemplate) -> bytes:
    while True:
        boundary = f"==digest_{secrets.token_hex(12)}==".encode()
        if not any(boundary in chunk for t in templates for chunk in t.literals):
            return boundary


# Parsed and written again without refolding a single header: refolding would make the email
# package decode our encoded words and write their text out as it is.
_AS_WRITTEN = SMTP.clone(refold_source="none")


def seven_bit(data: bytes) -> bytes:
    """The message re-encoded for a server without 8BITMIME: 8bit parts become base64."""
    if data.isascii():
        return data
    message = email.message_from_bytes(data, policy=_AS_WRITTEN)
    for part in message.walk():
        if part.get("Content-Transfer-Encoding", "").lower() == "8bit":
            payload = part.get_payload(decode=True)
            del part["Content-Transfer-Encoding"]
            part["Content-Transfer-Encoding"] = "base64"
            wrapped = base64.encodebytes(payload).decode().replace("\n", "\r\n")
            part.set_payload(wrapped)
    return message.as_bytes(policy=_AS_WRITTEN.clone(cte_type="7bit"))
