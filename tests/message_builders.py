"""The two ways a message is built, for the tests that compare them or attack them: the fast
frame (`MessageFrame`) and the general builder (the email package's), and a recipient to vary."""

from __future__ import annotations

from datetime import datetime

from digests_for_tests import GENERATED_AT, SITE

from digest.render.dkim import DkimSigner
from digest.render.email import CompiledEmail, Recipient
from digest.render.message import MessageFrame, build_message, personal_values

MESSAGE_ID = "<3f2a@news.example.org>"


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
    frame = MessageFrame.for_compiled(compiled, SITE, signer)
    personal = personal_values(who, site_name=SITE.name, message_id=MESSAGE_ID)
    data = frame.render(personal, date)
    assert data is not None, "the frame refused the message: the fast path was not tested"
    return data


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
