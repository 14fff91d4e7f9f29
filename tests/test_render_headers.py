"""Hostile text in headers: both message builders write it so that it reads back as that text.

Names, company names and titles holding CR, LF, NUL, U+2028 or RFC 2047 encoded words (with a
header inside or not) go through the fast frame and the general builder; each message is parsed
back by Python's email package: exactly the expected headers, the text as it went in (control
characters and line breaks become spaces), no defects. URL headers are ASCII, never encoded.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage

import pytest
from digests_for_tests import GENERATED_AT, MISTRAL, MISTRAL_SWEDEN, SITE, WEEK_START
from message_builders import MESSAGE_ID, fast, recipient, slow

from digest.compose import IsoWeek
from digest.compose.company import compose_company_digest
from digest.links import timed_url, unsubscribe_mailto, unsubscribe_url
from digest.render.email import CompiledEmail, EmailRenderer, Recipient
from digest.render.headers import mailbox, unstructured, uri_list
from digest.render.message import site_message
from digest.render.notice import notice_parts
from digest.render.templates import template_environment

INJECTED = "Bob Bcc: victim@attacker.example"
# (case, hostile text, the text a reader must see)
HOSTILE = [
    ("cr", "Bob\rBcc: victim@attacker.example", INJECTED),
    ("lf", "Bob\nBcc: victim@attacker.example", INJECTED),
    ("crlf", "Bob\r\nBcc: victim@attacker.example", INJECTED),
    ("nul", "Bob\x00Bcc: victim@attacker.example", INJECTED),
    ("u2028", "Bob\u2028Bcc: victim@attacker.example", INJECTED),
    ("u2029-and-nel", "Bob\u2029\x85Bcc: victim@attacker.example", INJECTED),
    *[
        (case, text, text)
        for case, text in [
            ("b-word-with-header", "=?utf-8?b?Qm9iDQpCY2M6IHZpY3RpbUBhdHRhY2tlci5leGFtcGxl?="),
            ("q-word-with-header", "=?utf-8?q?Bob=0D=0ABcc=3A_victim=40attacker=2Eexample?="),
            ("b-word", "=?utf-8?b?Qm9i?="),
            ("q-word", "=?UTF-8?Q?Bob?="),
            ("word-inside-a-word", "Bob=?utf-8?q?=0D=0ABcc:_victim@attacker.example?=Smith"),
            ("words-around-text", "Zoë =?utf-8?b?Qm9i?= Łukasiewicz"),
            ("long-word", "=?utf-8?q?" + "A" * 90 + "=0D=0ABcc:_victim@attacker.example?="),
            ("quotes-and-specials", 'O"Brien, Jr. (CTO) <ceo@attacker.example>; \\'),
        ]
    ],
]
IDS = [case for case, _, _ in HOSTILE]
MULTIPART = [
    "From",
    "Subject",
    "List-Id",
    "To",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
]
ENV = template_environment(None)
Builder = Callable[[CompiledEmail, Recipient], bytes]
BUILDERS = [pytest.param(fast, id="fast"), pytest.param(slow, id="general")]


def reader(name: str = "Ada Lovelace") -> Recipient:
    # The same hostile text as the To: header's name and as the greeting's given name.
    return recipient(email="ada@example.com", name=name, given_name=name, followed=("Mistral AI",))


def company_email(company_name: str) -> CompiledEmail:
    """A company digest composed as the scheduler composes it, for a company of that name."""
    company = replace(MISTRAL, name=company_name)
    digest = compose_company_digest(
        company,
        IsoWeek.containing(WEEK_START, SITE.zone),
        SITE.zone,
        [MISTRAL_SWEDEN],
        {},
        {company.slug: company},
        connections=3,
    )
    assert digest is not None
    return EmailRenderer(ENV, SITE).compile(digest)


@pytest.fixture(scope="module")
def plain_company() -> CompiledEmail:
    return company_email("Mistral AI")


def parsed(raw: bytes, headers: list[str] = MULTIPART) -> EmailMessage:
    """The message read back, checked: exactly `headers`, no defects, no injected line."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert sorted(message.keys()) == sorted(headers)
    for part in message.walk():
        assert part.defects == []
        for name in part:
            assert part[name].defects == (), name
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\r\n"))
    return message


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize(("case", "hostile", "shown"), HOSTILE, ids=IDS)
def test_a_hostile_subscriber_name_reads_as_its_text(
    plain_company: CompiledEmail, build: Builder, case: str, hostile: str, shown: str
) -> None:
    message = parsed(build(plain_company, reader(hostile)))
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == (shown, "ada@example.com")
    text = message.get_body(("plain",))
    assert text is not None
    assert f"Hi {shown}," in str(text.get_content())


# A company name reaches the MJML source, which cannot hold a NUL (MRML refuses to parse it):
# ingest is where such a name is refused. Its header is tested through the title cases.
COMPANY_NAMES = [case for case in HOSTILE if "\x00" not in case[1]]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize(
    ("case", "hostile", "shown"), COMPANY_NAMES, ids=[case for case, _, _ in COMPANY_NAMES]
)
def test_a_hostile_company_name_reads_as_its_text_in_the_subject(
    build: Builder, case: str, hostile: str, shown: str
) -> None:
    message = parsed(build(company_email(hostile), reader()))
    assert message["Subject"] == f"{shown}: what's new · 23–29 November 2026"


@pytest.mark.parametrize(("case", "hostile", "shown"), HOSTILE, ids=IDS)
def test_a_hostile_title_reads_as_its_text_in_both_builders(
    plain_company: CompiledEmail, case: str, hostile: str, shown: str
) -> None:
    titled = replace(plain_company, subject=hostile)
    for build in (fast, slow):
        message = parsed(build(titled, reader()))
        assert message["Subject"] == shown, build.__name__


def test_the_confirmation_email_has_an_ascii_list_unsubscribe_folded_at_the_comma() -> None:
    subscriber_id = "sub-" + "x" * 40  # real ids are long enough to need a fold
    leave = unsubscribe_url(SITE, subscriber_id)
    mailto = unsubscribe_mailto(SITE, subscriber_id)
    assert mailto is not None
    parts = notice_parts(
        ENV,
        SITE,
        "confirm",
        email="=?utf-8?b?Qm9iDQpCY2M6IHZpY3RpbUBhdHRhY2tlci5leGFtcGxl?=@example.com",
        given_name="Bob\r\nBcc: victim@attacker.example",
        link_url=timed_url(SITE, subscriber_id, "confirm", GENERATED_AT),
        unsubscribe_url=leave,
        email_format="html",
    )
    sent = site_message(
        SITE,
        parts,
        key="confirmation/x",
        message_id=MESSAGE_ID,
        to_name="",
        to_address="new.reader@example.com",
        unsubscribe_url=leave,
        unsubscribe_mailto=mailto,
        date=GENERATED_AT,
    )
    head = sent.data.split(b"\r\n\r\n", 1)[0]
    assert b"=?" not in head.split(b"List-Unsubscribe:", 1)[1]
    assert f"List-Unsubscribe: <{leave}>,\r\n <{mailto}>\r\n".encode() in head
    message = parsed(sent.data)
    assert message["List-Unsubscribe"] == f"<{leave}>, <{mailto}>"
    token = leave.rsplit("/", 1)[1]
    assert mailto == f"mailto:unsubscribe@news.example.org?subject=unsubscribe%20{token}"
    assert message["To"].addresses[0].display_name == ""


def test_url_headers_are_ascii_and_never_encoded_words() -> None:
    line = uri_list("List-Unsubscribe", ["https://news.example.org/désabonner/a b<c>\r\n", "x"])
    assert (
        line == b"List-Unsubscribe: <https://news.example.org/d%C3%A9sabonner/a%20b%3Cc>, <x>\r\n"
    )
    long = uri_list("List-Unsubscribe", ["https://news.example.org/" + "u" * 70, "mailto:u@x.org"])
    assert long == (
        b"List-Unsubscribe: <https://news.example.org/" + b"u" * 70 + b">,\r\n <mailto:u@x.org>\r\n"
    )


def test_header_lines_stay_within_the_rfc_limits() -> None:
    subject = unstructured("Subject", "深度求索 lowers costs again · " * 6 + "=?utf-8?q?x?= " * 4)
    assert max(map(len, subject.split(b"\r\n"))) <= 76
    assert email.message_from_bytes(subject + b"\r\n")["Subject"]
    name = mailbox("To", "Zoë " * 40, "zoe@example.com")
    assert all(len(line) <= 998 for line in name.split(b"\r\n"))


def test_ordinary_values_stay_readable() -> None:
    assert (
        mailbox("To", "Ada Lovelace", "ada@example.com")
        == b"To: Ada Lovelace <ada@example.com>\r\n"
    )
    assert mailbox("To", 'O"Brien, Jr.', "ob@example.com") == (
        b'To: "O\\"Brien, Jr." <ob@example.com>\r\n'
    )
    assert unstructured("Subject", "The week in AI · 23–29 November 2026") == (
        b"Subject: The week in AI =?utf-8?q?=C2=B7_23=E2=80=9329?= November 2026\r\n"
    )
    assert mailbox("To", "", "ada@example.com") == b"To: ada@example.com\r\n"


def test_a_text_only_message_from_the_fast_path_has_its_own_content_headers(
    plain_company: CompiledEmail,
) -> None:
    who = replace(reader("=?utf-8?q?Bob=0D=0ABcc=3A_x=40y?="), format="text")
    expected = [*MULTIPART, "Content-Transfer-Encoding"]
    message = parsed(fast(plain_company, who), expected)
    assert message.get_content_type() == "text/plain"
    assert message["To"].addresses[0].display_name == who.name
