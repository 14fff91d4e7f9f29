"""The MIME message of one personalised email, as RFC 5322 bytes ready for any email adapter.

multipart/alternative with the text part first and the HTML part last (clients show the last part
they can), UTF-8, and the headers a bulk digest needs: List-Id (RFC 2919), an HTTPS
List-Unsubscribe with One-Click POST (RFC 8058). Every value that feeds a header has CR and LF
removed first, so untrusted text (a subject from a title, a subscriber's name) can never add one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from digest.render.email import EmailParts


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
