"""The fast message path: what arrives is what the general (email package) path would send."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from email.message import EmailMessage

import pytest
from digests_for_tests import GENERATED_AT, PARIS, SITE, weekly_digest
from hypothesis import given, settings
from hypothesis import strategies as st
from message_builders import (
    DOT_STARTS_A_LINE,
    MESSAGE_ID,
    WRAPPED,
    as_smtplib_sends,
    fast,
    fast_email,
    recipient,
    slow,
)

from digest.engagement.tokens import LinkSigner, TrackedLinks
from digest.render.email import CompiledEmail, EmailRenderer, Recipient
from digest.render.message import (
    MessageFrame,
    OutgoingEmail,
    Personal,
    personal_values,
    seven_bit,
    smtp_data,
)
from digest.render.templates import template_environment
from digest.settings import TrackingSettings


@pytest.fixture(scope="module")
def compiled() -> CompiledEmail:
    return EmailRenderer(template_environment(None), SITE).compile(weekly_digest())


@pytest.fixture(scope="module")
def tracked() -> CompiledEmail:
    """With per-subscriber tracked links and the open pixel: a reader slot in every link."""
    digest = weekly_digest()
    tracking = TrackingSettings(weekly=True, per_subscriber=True, opens=True)
    links = TrackedLinks.for_digest(SITE, tracking, digest.key, now=GENERATED_AT)
    return EmailRenderer(template_environment(None), SITE).compile(digest, links=links)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> list[tuple[str, str]]:
    parts = list(message.iter_parts()) if message.is_multipart() else [message]
    return [(part.get_content_type(), part.get_content().replace("\r\n", "\n")) for part in parts]


def same_html(left: str, right: str) -> bool:
    # Folding turns a space between a tag's attributes into a line break: the same HTML.
    return re.sub(r"\s+", " ", left).strip() == re.sub(r"\s+", " ", right).strip()


HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
)


@pytest.mark.parametrize(
    "who",
    [
        recipient(),
        recipient(name="Ada Lovelace", followed=()),
        recipient(name="", format="text"),
        recipient(name='O"Brien, Jr. (CTO)'),
    ],
    ids=["non-ascii", "ascii", "text-only", "specials"],
)
def test_fast_and_general_paths_deliver_the_same_message(
    compiled: CompiledEmail, who: Recipient
) -> None:
    quick, general = parse(fast(compiled, who)), parse(slow(compiled, who))
    for name in HEADERS:
        assert str(quick[name]) == str(general[name]), name
    assert quick.get_content_type() == general.get_content_type()
    quick_parts, general_parts = bodies(quick), bodies(general)
    assert [kind for kind, _ in quick_parts] == [kind for kind, _ in general_parts]
    assert quick_parts[0] == general_parts[0]  # the text part, exactly
    if len(quick_parts) == 2:
        assert same_html(quick_parts[1][1], general_parts[1][1])


def test_per_subscriber_tracked_links_take_the_fast_path_unchanged(tracked: CompiledEmail) -> None:
    token = LinkSigner.for_site(SITE).reader_token("weekly:2026-W48", "s0001", 1_800_000_000)
    who = recipient(reader=token)
    quick, general = bodies(parse(fast(tracked, who))), bodies(parse(slow(tracked, who)))
    assert quick[0] == general[0]
    assert same_html(quick[1][1], general[1][1])
    links = quick[0][1].count("https://news.example.org/r/")
    assert links >= 3 and quick[0][1].count(f"/{token}") == links
    assert quick[1][1].count(f"/{token}") > links  # every link, and the pixel


def test_fast_message_lines_are_crlf_and_under_the_smtp_limit(compiled: CompiledEmail) -> None:
    raw = fast(compiled, recipient())
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.startswith(b"From: ")


def test_fast_path_headers_cannot_be_injected(compiled: CompiledEmail) -> None:
    hostile = recipient(
        name="Eve\r\nBcc: victim@example.com",
        unsubscribe_url="https://news.example.org/u\r\nBcc: victim@example.com",
    )
    raw = fast(compiled, hostile)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.startswith(b"Bcc") for line in head.split(b"\r\n"))
    assert "Bcc" not in parse(raw)


def test_an_over_long_value_falls_back_to_the_general_path(compiled: CompiledEmail) -> None:
    frame = MessageFrame.for_compiled(compiled, SITE)
    personal = personal_values(
        recipient(unsubscribe_url="https://news.example.org/" + "x" * 400),
        site_name=SITE.name,
        message_id=MESSAGE_ID,
    )
    assert frame.render(personal, GENERATED_AT) is None


def test_naive_dates_are_refused(compiled: CompiledEmail) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fast(compiled, recipient(), datetime(2026, 11, 30, 7))
    assert b"Date: Mon, 30 Nov 2026 07:00:00 +0100\r\n" in fast(
        compiled, recipient(), datetime(2026, 11, 30, 7, tzinfo=PARIS)
    )


def test_seven_bit_re_encoding_keeps_the_content(compiled: CompiledEmail) -> None:
    raw = fast(compiled, recipient())
    converted = seven_bit(raw)
    assert converted.isascii()
    assert max(len(line) for line in converted.split(b"\r\n")) <= 998
    assert bodies(parse(converted)) == bodies(parse(raw))
    assert parse(converted)["To"] == parse(raw)["To"]


# SMTP transparency (RFC 5321 4.5.2) -------------------------------------------------------------


@pytest.mark.parametrize(
    "who",
    [
        recipient(),
        recipient(name=".x", given_name=".x"),
        recipient(followed=WRAPPED),
        recipient(followed=DOT_STARTS_A_LINE),
        recipient(followed=DOT_STARTS_A_LINE, format="text"),  # no MJML: the value's dot only
    ],
    ids=["plain", "name-starting-with-a-dot", "line-breaks", "dot-after-a-break", "text-only"],
)
def test_the_frames_smtp_data_is_its_message_stuffed_as_smtplib_would(
    compiled: CompiledEmail, who: Recipient
) -> None:
    outgoing = fast_email(compiled, who)
    # A line starts with a dot: in the MJML's Outlook style block (a literal), in a value.
    assert b"\r\n." in outgoing.data
    assert outgoing.smtp_data() == as_smtplib_sends(outgoing.data)


@pytest.mark.parametrize("followed", [("Mistral AI",), WRAPPED], ids=["one-line", "line-breaks"])
def test_values_that_start_and_end_no_line_take_the_literals_stuffed_once_per_variant(
    compiled: CompiledEmail, followed: tuple[str, ...]
) -> None:
    outgoing = fast_email(compiled, recipient(followed=followed))
    assert outgoing.transparent is not None  # not stuffed again from the whole message


# Few letters: dots often meet line breaks and the edges of literals and values.
_DOTTY = st.lists(st.sampled_from([".", "a", "é", "\n", "\r\n", "\r"]), max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    # At most two slots a part: three on one line could pass the line limit (CannotFold).
    texts=st.lists(_DOTTY.map("".join), min_size=1, max_size=3),
    htmls=st.lists(_DOTTY.map("".join), min_size=1, max_size=3),
    values=st.data(),
    text_only=st.booleans(),
)
def test_smtp_data_of_any_frame_and_values_is_their_message_stuffed(
    texts: list[str], htmls: list[str], values: st.DataObject, text_only: bool
) -> None:
    text_slots = tuple(f"t{n}" for n in range(len(texts) - 1))
    html_slots = tuple(f"h{n}" for n in range(len(htmls) - 1))
    frame = MessageFrame(
        subject="Dots",
        text_literals=tuple(texts),
        text_slots=text_slots,
        html_literals=tuple(htmls),
        html_slots=html_slots,
        from_address=SITE.from_address,
        list_id=SITE.list_id,
        list_name=SITE.name,
    )
    personal = Personal(
        to_name=values.draw(_DOTTY.map("".join)),
        to_address="zoe@example.com",
        message_id=MESSAGE_ID,
        unsubscribe_url="https://news.example.org/unsubscribe/tok",
        unsubscribe_mailto=None,
        text_values={slot: "".join(values.draw(_DOTTY)) for slot in text_slots},
        html_values=None if text_only else {s: "".join(values.draw(_DOTTY)) for s in html_slots},
    )
    rendered = frame.render(personal, GENERATED_AT)
    assert rendered is not None
    data, transparent = rendered
    sent = OutgoingEmail(
        "k", MESSAGE_ID, "d@example.org", "zoe@example.com", data, None, transparent
    )
    assert sent.smtp_data() == smtp_data(data) == as_smtplib_sends(data)
