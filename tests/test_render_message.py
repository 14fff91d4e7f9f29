"""The MIME message: parses back, headers decode to what went in, parts in order, no injection."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest.render.email import EmailParts
from digest.render.message import build_message

PARIS = ZoneInfo("Europe/Paris")
DATE = datetime(2026, 11, 30, 7, 0, tzinfo=PARIS)
INJECTION = "\r\nBcc: evil@example.com"
PARTS = EmailParts(
    subject="The AMW Weekly · 23–29 November 2026",
    text="Hi Zoë,\n\nThe week in AI. 🇸🇪\n",
    html='<!doctype html><html lang="en"><body><p>Hi Zoë, 🇸🇪</p></body></html>',
)


def build(parts: EmailParts = PARTS, **overrides: Any) -> bytes:
    options: dict[str, Any] = {
        "from_address": "AMW Digest <digest@news.example.org>",
        "to_name": "Zoë Łukasiewicz",
        "to_address": "zoe@example.com",
        "message_id": "weekly.2026-W48.s42@news.example.org",
        "date": DATE,
        "list_id": "weekly.news.example.org",
        "list_name": "AMW Weekly",
        "unsubscribe_url": "https://news.example.org/unsubscribe?token=abc",
        "unsubscribe_mailto": "mailto:unsubscribe@news.example.org?subject=unsubscribe%20abc.x",
    }
    options.update(overrides)
    return build_message(parts, **options)


def content(part: EmailMessage) -> str:
    """A part's decoded text with the wire's CRLF line ends read back as LF."""
    return str(part.get_content()).replace("\r\n", "\n")


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_headers_decode_back_to_the_originals() -> None:
    message = parse(build())
    assert message["From"].addresses[0].display_name == "AMW Digest"
    assert message["From"].addresses[0].addr_spec == "digest@news.example.org"
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Łukasiewicz", "zoe@example.com")
    assert message["Subject"] == "The AMW Weekly · 23–29 November 2026"
    assert message["Message-ID"] == "<weekly.2026-W48.s42@news.example.org>"
    assert message["List-Id"] == "AMW Weekly <weekly.news.example.org>"
    assert message["List-Unsubscribe"] == (
        "<https://news.example.org/unsubscribe?token=abc>, "
        "<mailto:unsubscribe@news.example.org?subject=unsubscribe%20abc.x>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime == DATE


def test_date_has_a_real_zone() -> None:
    raw = build()
    assert b"Date: Mon, 30 Nov 2026 07:00:00 +0100\r\n" in raw
    assert b"-0000" not in raw
    with pytest.raises(ValueError, match="timezone-aware"):
        build(date=datetime(2026, 11, 30, 7, 0))
    assert b"Date: Mon, 30 Nov 2026 06:00:00 +0000\r\n" in build(date=DATE.astimezone(UTC))


def test_non_ascii_headers_are_encoded_words() -> None:
    raw = build()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head


def test_text_first_html_last() -> None:
    message = parse(build())
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    assert content(parts[0]) == PARTS.text
    assert content(parts[1]).rstrip("\n") == PARTS.html
    assert all(part["MIME-Version"] is None for part in parts)


def test_text_only_message_has_a_single_part() -> None:
    message = parse(build(EmailParts(subject="S", text="Hello\n", html=None)))
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()
    assert content(message) == "Hello\n"


def test_header_injection_is_impossible() -> None:
    raw = build(
        EmailParts(subject="Weekly" + INJECTION, text="t\n", html=None),
        to_name="Zoë" + INJECTION,
        list_name="AMW" + INJECTION,
        unsubscribe_url="https://news.example.org/u" + INJECTION,
    )
    message = parse(raw)
    assert message["Bcc"] is None
    assert not any(line.lower().startswith(b"bcc:") for line in raw.split(b"\r\n"))
    assert message["Subject"] == "Weekly Bcc: evil@example.com"
    assert message["To"].addresses[0].display_name == "Zoë Bcc: evil@example.com"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    # Message-IDs are ours (a hash and a domain): anything else in one is a bug, refused.
    with pytest.raises(ValueError, match="message id"):
        build(message_id="id@example.org" + INJECTION)


def test_lines_are_crlf_and_short_enough_for_smtp() -> None:
    long_html = "<p>" + "word " * 2000 + "</p>"
    raw = build(EmailParts(subject="S", text="t\n", html=long_html))
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"\n" not in b"".join(lines)
    assert parse(raw).get_body(preferencelist=("html",)).get_content().strip() == long_html


def test_plain_http_unsubscribe_gets_no_one_click_promise() -> None:
    message = parse(build(unsubscribe_url="http://127.0.0.1:8000/u", unsubscribe_mailto=None))
    assert message["List-Unsubscribe"] == "<http://127.0.0.1:8000/u>"
    assert message["List-Unsubscribe-Post"] is None
