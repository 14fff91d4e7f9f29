"""The two ways a message is built, for the tests that compare them or attack them: the fast
frame (`MessageFrame`) and the general builder (the email package's), and a recipient to vary."""

from __future__ import annotations

import re
from datetime import datetime

from digests_for_tests import GENERATED_AT, SITE

from digest.render.dkim import DkimSigner
from digest.render.email import CompiledEmail, Recipient
from digest.render.message import MessageFrame, OutgoingEmail, build_message, personal_values

MESSAGE_ID = "<3f2a@news.example.org>"
# Followed companies whose sentence the text part wraps: "You follow:", a line of 67 A's, then
# the other name at the start of a line.
WRAPPED = ("A" * 67, "B")
DOT_STARTS_A_LINE = ("A" * 67, ".NET Foundation")


def recipient(**overrides: object) -> Recipient:
    values: dict[str, object] = {
        "email": "zoe@example.com",
        "name": "Zoë Łukasiewicz",
        "given_name": "Zoë",
        "format": "html",
        "followed": ("Mistral AI", "DeepSeek"),
        "preferences_url": "https://news.example.org/preferences/tok",
        "unsubscribe_url": "https://news.example.org/unsubscribe/tok",
        "unsubscribe_mailto": "mailto:unsubscribe@news.example.org?subject=unsubscribe%20tok",
        "archive_url": "https://news.example.org/archive/weekly-2026-W48",
    }
    values.update(overrides)
    return Recipient(**values)  # type: ignore[arg-type]


def fast(
    compiled: CompiledEmail,
    who: Recipient,
    date: datetime = GENERATED_AT,
    signer: DkimSigner | None = None,
) -> bytes:
    """The frame's message; fails the test if the frame refused it (the fast path untested)."""
    return fast_email(compiled, who, date, signer).data


def fast_email(
    compiled: CompiledEmail,
    who: Recipient,
    date: datetime = GENERATED_AT,
    signer: DkimSigner | None = None,
) -> OutgoingEmail:
    """The frame's message as the builder hands it to an adapter, its SMTP pieces and all."""
    frame = MessageFrame.for_compiled(compiled, SITE, signer)
    personal = personal_values(who, site_name=SITE.name, message_id=MESSAGE_ID)
    rendered = frame.render(personal, date)
    assert rendered is not None, "the frame refused the message: the fast path was not tested"
    key = f"weekly:2026-W48/email/{who.email}"
    sender = "digest@news.example.org"
    return OutgoingEmail(
        key, MESSAGE_ID, sender, who.email, rendered.data, signer, rendered.transparent
    )


def as_smtplib_sends(message: bytes) -> bytes:
    """The DATA content smtplib's own `SMTP.data` writes for a CRLF message: every line's
    leading dot doubled by its regular expression, a CRLF at the end, the final dot."""
    assert b"\n" not in message.replace(b"\r\n", b""), "not a CRLF message"
    quoted = re.sub(rb"(?m)^\.", b"..", message)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    return quoted + b".\r\n"


def slow(compiled: CompiledEmail, who: Recipient, date: datetime = GENERATED_AT) -> bytes:
    return build_message(
        compiled.personalise(who),
        from_address=SITE.from_address,
        to_name=who.name,
        to_address=who.email,
        message_id=MESSAGE_ID,
        date=date,
        list_id=SITE.list_id,
        list_name=SITE.name,
        unsubscribe_url=who.unsubscribe_url,
        unsubscribe_mailto=who.unsubscribe_mailto,
    )
