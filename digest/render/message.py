"""The MIME message of one personalised email, as RFC 5322 bytes ready for any email adapter.

multipart/alternative with the text part first and the HTML part last (clients show the last part
they can), UTF-8, and the headers a bulk digest needs: List-Id (RFC 2919), an HTTPS
List-Unsubscribe with One-Click POST (RFC 8058). Every value that feeds a header has CR and LF
removed first, so untrusted text (a subject from a title, a subscriber's name) can never add one.
"""

from __future__ import annotations

import base64
import binascii
import email
import functools
import html
import re
import secrets
import textwrap
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

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


_LINE_BREAKS = re.compile(r"[\r\n]+")
_ANGLES = "<> \t"


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
        unsubscribe_mailto=site.unsubscribe_mailto,
    )
    return OutgoingEmail(
        key=key,
        message_id=message_id,
        sender=parseaddr(site.from_address)[1],
        recipient=to_address,
        data=data,
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
    """The message as bytes with CRLF line endings (policy SMTP)."""
    if date.tzinfo is None or date.utcoffset() is None:
        # A naive date would be written as -0000, "zone unknown": refuse rather than guess.
        raise ValueError("date must be timezone-aware")
    message = EmailMessage(policy=SMTP)
    message["From"] = _from_header(from_address)
    message["To"] = _address(to_name, to_address)
    message["Subject"] = _clean(parts.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{_clean(message_id).strip(_ANGLES)}>"
    message["List-Id"] = _list_id(list_name, list_id)
    message["List-Unsubscribe"] = _list_unsubscribe(unsubscribe_url, unsubscribe_mailto)
    if _is_https(unsubscribe_url):
        # RFC 8058: one-click needs an HTTPS URI; with a plain http one (a laptop demo) the
        # header would promise what providers will not do.
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["MIME-Version"] = "1.0"
    message.set_content(parts.text, subtype="plain", charset="utf-8")
    if parts.html is not None:
        message.add_alternative(parts.html, subtype="html", charset="utf-8")
        for part in message.iter_parts():
            # add_alternative builds the part as a whole message, MIME-Version and all.
            del part["MIME-Version"]
    return message.as_bytes(policy=SMTP)


def _clean(value: str) -> str:
    """No CR or LF: a line break in a header value would start a header of its own."""
    return _LINE_BREAKS.sub(" ", value).strip()


def _address(name: str, address: str) -> Address:
    # Address encodes a non-ASCII display name per RFC 2047 and quotes specials on output.
    return Address(display_name=_clean(name), addr_spec=_clean(address))


def _from_header(from_address: str) -> Address:
    name, address = parseaddr(_clean(from_address))
    if not address:
        raise ValueError(f"from_address {from_address!r} has no address in it")
    return _address(name, address)


def _list_id(list_name: str, list_id: str) -> str:
    name = _clean(list_name).replace("\\", "").replace('"', "")
    return f'"{name}" <{_clean(list_id).strip(_ANGLES)}>'


def _is_https(url: str) -> bool:
    return _clean(url).strip(_ANGLES).lower().startswith("https://")


def _list_unsubscribe(url: str, mailto: str | None) -> str:
    targets = [f"<{_uri(url)}>"]
    if mailto:
        address = _uri(mailto).removeprefix("mailto:")
        targets.append(f"<mailto:{address}?subject=unsubscribe>")
    return ", ".join(targets)


def _uri(value: str) -> str:
    """A URI fit to sit between angle brackets: no line breaks, no brackets or spaces inside."""
    value = _clean(value).strip(_ANGLES)
    return value.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


# The fast path ----------------------------------------------------------------------------------
#
# `build_message` asks the email package to encode every header and part of every message: about
# a millisecond each. A bulk send repeats the same digest variant thousands of times, so
# `MessageFrame` does the expensive work once per variant: the constant headers are encoded by the
# email package itself (so their encoding is the same as build_message's), the two bodies are
# cut into byte chunks with CRLF line ends around the subscriber slots, and long HTML lines are
# folded at whitespace between a tag's attributes (a line break there means what the space
# meant). Per subscriber, `MessageFrame.render` joins bytes. Both parts go as 8bit, which
# SMTP servers accept only if they announce 8BITMIME (RFC 6152); the SMTP adapter re-encodes a
# message for a server that does not (`seven_bit`).

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

    def fill(self, values: dict[str, bytes]) -> bytes:
        chunks = [self.literals[0]]
        for slot, literal in zip(self.slots, self.literals[1:], strict=True):
            chunks.append(values[slot])
            chunks.append(literal)
        return b"".join(chunks)


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


def _constant_headers(parts_subject: str, from_address: str, list_id: str, list_name: str) -> bytes:
    """From, Subject and List-Id encoded by the email package, exactly as build_message does."""
    message = EmailMessage(policy=SMTP)
    message["From"] = _from_header(from_address)
    message["Subject"] = _clean(parts_subject)
    message["List-Id"] = _list_id(list_name, list_id)
    return message.as_bytes(policy=SMTP).split(b"\r\n\r\n", 1)[0] + b"\r\n"


_ATOM_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")


def _encoded_words(name: str) -> str:
    """RFC 2047 encoded words (UTF-8, base64), each under 76 characters, folded between them."""
    words, chunk = [], b""
    for character in name:
        encoded = character.encode()
        if len(chunk) + len(encoded) > 45:  # 45 bytes → 60 base64 characters + 12 of framing
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(
        f"=?utf-8?b?{binascii.b2a_base64(word, newline=False).decode()}?=" for word in words
    )


def _to_header(name: str, address: str) -> bytes | None:
    """The To header, or None when it needs the email package (unusual names or addresses)."""
    name, address = _clean(name), _clean(address)
    if not address.isascii() or not _PLAIN_ADDRESS.fullmatch(address):
        return None
    if not name:
        return f"To: {address}\r\n".encode()
    if not name.isascii():
        return f"To: {_encoded_words(name)} <{address}>\r\n".encode()
    if len(name) > 60 or not name.isprintable():
        return None
    if _ATOM_NAME.fullmatch(name):
        return f"To: {name} <{address}>\r\n".encode()
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'To: "{quoted}" <{address}>\r\n'.encode()


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True, slots=True)
class Personal:
    """One subscriber's values for a frame: the header fields and the slots of the bodies."""

    to_name: str
    to_address: str
    message_id: str
    unsubscribe_url: str
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
        text_values=text_values,
        html_values=html_values,
    )


@functools.lru_cache(maxsize=4096)
def _wrapped(sentence: str) -> str:
    # The same wrapping as the text template's; many subscribers share a sentence, so cache it.
    return textwrap.fill(
        sentence, width=_TEXT_WIDTH, break_long_words=False, break_on_hyphens=False
    )


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
        unsubscribe_mailto: str | None,
    ) -> None:
        self.text = _folded(text_literals, text_slots, html=False)
        self.html = _folded(html_literals, html_slots, html=True)
        self.head = _constant_headers(subject, from_address, list_id, list_name)
        self.mailto = unsubscribe_mailto
        self.boundary = _boundary(self.text, self.html)
        self._date_cache: tuple[datetime, bytes] | None = None

    @classmethod
    def for_compiled(cls, compiled: CompiledEmail, site: SiteSettings) -> MessageFrame:
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
            unsubscribe_mailto=site.unsubscribe_mailto,
        )

    def render(self, personal: Personal, date: datetime) -> bytes | None:
        """The whole message, or None if this subscriber's values need the slow path."""
        to = _to_header(personal.to_name, personal.to_address)
        if to is None:
            return None
        text_values = _slot_bytes(personal.text_values)
        if text_values is None:
            return None
        html_values = None
        if personal.html_values is not None:
            html_values = _slot_bytes(personal.html_values)
            if html_values is None:
                return None
        boundary = self.boundary
        if any(boundary in value for value in text_values.values()):
            return None
        chunks = [
            self.head,
            to,
            self._date(date),
            f"Message-ID: <{_clean(personal.message_id).strip(_ANGLES)}>\r\n".encode(),
            self._unsubscribe(personal.unsubscribe_url),
        ]
        if _is_https(personal.unsubscribe_url):
            chunks.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
        text = self.text.fill(text_values)
        text_encoding = _transfer_encoding(self.text, text_values)
        if html_values is None:
            chunks += [
                b"MIME-Version: 1.0\r\n",
                b'Content-Type: text/plain; charset="utf-8"\r\n',
                b"Content-Transfer-Encoding: " + text_encoding + b"\r\n\r\n",
                text,
            ]
            return b"".join(chunks)
        chunks += [
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n",
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: " + text_encoding + b"\r\n\r\n",
            text,
            b"\r\n--" + boundary + b"\r\n",
            b'Content-Type: text/html; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: "
            + _transfer_encoding(self.html, html_values)
            + b"\r\n\r\n",
            self.html.fill(html_values),
            b"\r\n--" + boundary + b"--\r\n",
        ]
        return b"".join(chunks)

    def _unsubscribe(self, url: str) -> bytes:
        return f"List-Unsubscribe: {_list_unsubscribe(url, self.mailto)}\r\n".encode()

    def _date(self, date: datetime) -> bytes:
        if date.tzinfo is None or date.utcoffset() is None:
            raise ValueError("date must be timezone-aware")
        # One send stamps thousands of messages with the same second: format it once.
        second = date.replace(microsecond=0)
        if self._date_cache is None or self._date_cache[0] != second:
            self._date_cache = (second, f"Date: {format_datetime(second)}\r\n".encode())
        return self._date_cache[1]


def _slot_bytes(values: dict[str, str]) -> dict[str, bytes] | None:
    encoded = {}
    for slot, value in values.items():
        data = _crlf(value).encode()
        if len(data) > _SLOT_ALLOWANCE:
            return None
        encoded[slot] = data
    return encoded


def _transfer_encoding(template: _BodyTemplate, values: dict[str, bytes]) -> bytes:
    if template.eight_bit or not all(value.isascii() for value in values.values()):
        return b"8bit"
    return b"7bit"


def _boundary(*templates: _BodyTemplate) -> bytes:
    while True:
        boundary = f"==digest_{secrets.token_hex(12)}==".encode()
        if not any(boundary in chunk for t in templates for chunk in t.literals):
            return boundary


def seven_bit(data: bytes) -> bytes:
    """The message re-encoded for a server without 8BITMIME: 8bit parts become base64."""
    if data.isascii():
        return data
    message = email.message_from_bytes(data, policy=SMTP)
    for part in message.walk():
        if part.get("Content-Transfer-Encoding", "").lower() == "8bit":
            payload = part.get_payload(decode=True)
            del part["Content-Transfer-Encoding"]
            part["Content-Transfer-Encoding"] = "base64"
            wrapped = base64.encodebytes(payload).decode().replace("\n", "\r\n")
            part.set_payload(wrapped)
    return message.as_bytes(policy=SMTP.clone(cte_type="7bit"))
