"""DKIM: every message signed with rsa-sha256 and ed25519-sha256, verified by dkimpy against the
published keys, on both builders and after delivery (file adapter, a real SMTP server)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import dkim
import pytest
from digests_for_tests import GENERATED_AT, SITE, weekly_digest
from dkim.canonicalization import Relaxed
from email_world import context, fill, plan_weekly, readers, settings_with_email, smtp_email
from hypothesis import given, settings
from hypothesis import strategies as st
from message_builders import as_smtplib_sends, fast, fast_email, recipient
from smtp_sink import Recorder, smtp_server

from digest.cli import main
from digest.delivery.email import check_email_settings
from digest.errors import ConfigError
from digest.render.dkim import (
    SIGNED_HEADERS,
    CanonicalBody,
    DkimKey,
    DkimSigner,
    load_private_key,
    new_key,
    public_record,
)
from digest.render.email import CompiledEmail, EmailRenderer
from digest.render.message import MessageFrame, OutgoingEmail, personal_values, site_message
from digest.render.templates import template_environment
from digest.schedule.deliverer import deliver_due
from digest.store import Store

DOMAIN = "news.example.org"
DnsLookup = Callable[..., bytes | None]


@pytest.fixture(scope="module")
def pems() -> dict[str, bytes]:
    return {kind: new_key(kind).private_pem for kind in ("rsa", "ed25519")}


@pytest.fixture(scope="module")
def signer(pems: dict[str, bytes]) -> DkimSigner:
    return DkimSigner(
        [DkimKey(f"s-{kind}", DOMAIN, load_private_key(pem.decode())) for kind, pem in pems.items()]
    )


@pytest.fixture(scope="module")
def dns(pems: dict[str, bytes]) -> DnsLookup:
    """A resolver holding each key's public record, as `digest dkim-keygen` prints it."""
    records = {}
    for kind, pem in pems.items():
        name = f"s-{kind}._domainkey.{DOMAIN}.".encode()
        records[name] = public_record(load_private_key(pem.decode())).encode()
    return lambda name, timeout=5: records.get(name)


@pytest.fixture(scope="module")
def compiled() -> CompiledEmail:
    return EmailRenderer(template_environment(None), SITE).compile(weekly_digest())


def verified(data: bytes, dns: DnsLookup) -> list[bytes]:
    """The algorithm of each signature that verifies; fails the test on any that does not."""
    signatures = len(re.findall(rb"^DKIM-Signature:", data, re.MULTILINE))
    algorithms = []
    for index in range(signatures):
        checker = dkim.DKIM(data)
        assert checker.verify(idx=index, dnsfunc=dns), f"signature {index} does not verify"
        algorithms.append(checker.signature_fields[b"a"])
    return algorithms


BOTH = [b"rsa-sha256", b"ed25519-sha256"]


def verifies(data: bytes, index: int, dns: DnsLookup) -> bool:
    try:
        return bool(dkim.DKIM(data).verify(idx=index, dnsfunc=dns))
    except dkim.DKIMException:
        return False


class GeneralWayForbidden(DkimSigner):
    """A signer that fails if asked to canonicalise a whole message."""

    def sign(self, message: bytes, now: datetime | None = None) -> bytes:
        raise AssertionError("the fast path fell back to canonicalising the whole body")


@pytest.mark.parametrize("form", ["html", "text"])
def test_fast_messages_are_signed_from_the_precomputed_body_and_verify(
    compiled: CompiledEmail, signer: DkimSigner, dns: DnsLookup, form: str
) -> None:
    data = fast(compiled, recipient(format=form), signer=GeneralWayForbidden(signer.keys))
    assert verified(data, dns) == BOTH


def test_a_signed_message_is_stuffed_for_smtp_as_signed(
    compiled: CompiledEmail, signer: DkimSigner, dns: DnsLookup
) -> None:
    outgoing = fast_email(compiled, recipient(), signer=GeneralWayForbidden(signer.keys))
    assert outgoing.transparent is not None  # from the literals stuffed beforehand
    assert verified(outgoing.data, dns) == BOTH  # what was signed: the message, not stuffed
    assert outgoing.smtp_data() == as_smtplib_sends(outgoing.data)


def test_general_messages_verify(
    compiled: CompiledEmail, signer: DkimSigner, dns: DnsLookup
) -> None:
    who = recipient(name="=?utf-8?b?Qm9iDQpCY2M6IHZpY3RpbUBhdHRhY2tlci5leGFtcGxl?=")
    sent = site_message(
        SITE,
        compiled.personalise(who),
        key="k",
        message_id="<a@b.org>",
        to_name=who.name,
        to_address=who.email,
        unsubscribe_url=who.unsubscribe_url,
        date=GENERATED_AT,
        signer=signer,
    )
    assert verified(sent.data, dns) == BOTH


def test_a_value_that_would_canonicalise_with_its_neighbours_is_hashed_in_full(
    compiled: CompiledEmail, signer: DkimSigner, dns: DnsLookup
) -> None:
    frame = MessageFrame.for_compiled(compiled, SITE, signer)
    personal = personal_values(recipient(), site_name=SITE.name, message_id="<a@b.org>")
    odd = replace(personal, text_values={**personal.text_values, "name": "Zoë \t "})
    rendered = frame.render(odd, GENERATED_AT)
    assert rendered is not None
    assert verified(rendered.data, dns) == BOTH


def test_the_signature_covers_the_rfc_8058_headers_and_refuses_additions(
    compiled: CompiledEmail, signer: DkimSigner, dns: DnsLookup
) -> None:
    data = fast(compiled, recipient(), signer=signer)
    named = set(SIGNED_HEADERS)
    for header in ("from", "to", "subject", "date", "message-id", "list-id"):
        assert header.encode() in named
    assert {b"list-unsubscribe", b"list-unsubscribe-post"} <= named
    head, body = data.split(b"\r\n\r\n", 1)
    tampered = {
        "another List-Unsubscribe": (head + b"\r\nList-Unsubscribe: <https://evil.example/>", body),
        "another Subject": (head + b"\r\nSubject: Win a prize", body),
        "a Reply-To": (head + b"\r\nReply-To: evil@example.net", body),
        "a changed body": (head, body.replace(b"Mistral", b"Mistrai", 1)),
    }
    for what, (changed_head, changed_body) in tampered.items():
        changed = changed_head + b"\r\n\r\n" + changed_body
        assert not verifies(changed, 0, dns), what
        assert not verifies(changed, 1, dns), what


def test_a_message_re_encoded_for_a_7_bit_server_is_signed_again(
    compiled: CompiledEmail, signer: DkimSigner, dns: DnsLookup
) -> None:
    data = fast(compiled, recipient(), signer=signer)
    assert not data.isascii()
    outgoing = OutgoingEmail("k", "<a@b.org>", "digest@news.example.org", "zoe@example.com", data)
    signed = replace(outgoing, signer=signer).seven_bit()
    assert signed.isascii()
    assert verified(signed, dns) == BOTH
    assert signed.count(b"DKIM-Signature:") == 2
    message = email.message_from_bytes(signed, policy=email.policy.default)
    assert message["To"].addresses[0].display_name == "Zoë Łukasiewicz"


# Bodies of text whose whitespace is awkward on purpose: runs, tabs, spaces before line ends.
_TEXT = st.lists(st.sampled_from(["a", "b", " ", "é", "\t", "\r\n", "  ", " \r\n"]), max_size=30)
_VALUE = st.lists(st.sampled_from(["x", "é", " ", "-", "\r\n", " \t"]), max_size=8)


@settings(max_examples=150, deadline=None)
@given(literals=st.lists(_TEXT, min_size=1, max_size=5), values=st.data())
def test_the_precomputed_body_hash_is_the_relaxed_canonical_one(
    literals: list[list[str]], values: st.DataObject
) -> None:
    chunks = ["".join(literal).encode() for literal in literals]
    chunks[-1] += b"end\r\n"  # a body ends in text of its own, as ours do
    filled = ["".join(values.draw(_VALUE)).encode() for _ in chunks[1:]]
    pairs = zip(filled, chunks[1:], strict=True)
    body = chunks[0] + b"".join(value + chunk for value, chunk in pairs)
    digest = CanonicalBody(chunks).digest(filled)
    if digest is not None:  # None: a value the general way must canonicalise
        assert digest == hashlib.sha256(Relaxed.canonicalize_body(body)).digest()


# Settings and delivery ------------------------------------------------------------------------


def dkim_email(pems: dict[str, bytes], base: dict[str, object]) -> dict[str, object]:
    return {
        **base,
        "dkim": {
            "domain": DOMAIN,
            "selector": "s-rsa",
            "private_key": pems["rsa"].decode(),
            "second": {"selector": "s-ed25519", "private_key": pems["ed25519"].decode()},
        },
    }


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    fill(store, readers(3))
    yield store
    store.close()


def test_messages_delivered_by_the_file_adapter_verify(
    tmp_path: Path, sqlite_store: Store, pems: dict[str, bytes], dns: DnsLookup
) -> None:
    email_settings = dkim_email(pems, {"type": "file", "options": {"directory": "outbox"}})
    ctx = context(settings_with_email(tmp_path, email_settings, "sqlite://"), sqlite_store)
    plan_weekly(ctx)
    assert deliver_due(ctx).states == {"sent": 3}
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    for path in files:
        assert verified(path.read_bytes(), dns) == BOTH


def test_messages_received_by_a_real_smtp_server_verify(
    tmp_path: Path, sqlite_store: Store, pems: dict[str, bytes], dns: DnsLookup
) -> None:
    recorder = Recorder()
    with smtp_server(recorder=recorder) as server:
        email_settings = dkim_email(pems, smtp_email(server.port, connections=1))
        ctx = context(settings_with_email(tmp_path, email_settings, "sqlite://"), sqlite_store)
        plan_weekly(ctx)
        assert deliver_due(ctx).states == {"sent": 3}
    assert len(recorder.received) == 3
    for received in recorder.received:
        assert verified(received.data, dns) == BOTH


def test_a_bad_key_is_a_settings_error_that_never_shows_the_key(
    tmp_path: Path, pems: dict[str, bytes]
) -> None:
    broken = pems["rsa"].decode().replace("A", "B", 40)
    email_settings = dkim_email(pems, {"type": "file"})
    email_settings["dkim"]["private_key"] = broken  # type: ignore[index]
    email_settings["dkim"]["second"]["selector"] = "bad selector"  # type: ignore[index]
    with pytest.raises(ConfigError) as raised:
        check_email_settings(settings_with_email(tmp_path, email_settings, "sqlite://"))
    report = str(raised.value)
    assert "email.dkim.private_key: not a private key" in report
    assert "email.dkim.second.selector" in report
    assert broken[40:80] not in report and pems["rsa"].decode()[40:80] not in report


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_keygen_writes_a_private_key_file_and_prints_the_record_to_publish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / "dkim.key"
    assert main(["dkim-keygen", "--type", kind, "--domain", DOMAIN, "--key-file", str(path)]) == 0
    printed = capsys.readouterr()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    pem = path.read_text()
    body = "".join(pem.splitlines()[1:-1])
    assert body[:40] not in printed.out + printed.err
    name = f"digest-{kind}._domainkey.{DOMAIN}"
    assert f"  name:  {name}" in printed.out
    record = re.search(r"  value: (v=DKIM1; k=\S+; p=\S+)", printed.out)
    assert record is not None
    zone = re.search(r"IN TXT \( (.+) \)", printed.out)
    assert zone is not None and "".join(re.findall(r'"([^"]*)"', zone.group(1))) == record.group(1)

    key = DkimSigner([DkimKey(f"digest-{kind}", DOMAIN, load_private_key(pem))])
    outgoing = site_message(
        SITE,
        EmailRenderer(template_environment(None), SITE)
        .compile(weekly_digest())
        .personalise(recipient()),
        key="k",
        message_id="<a@b.org>",
        to_name="Zoë",
        to_address="zoe@example.com",
        unsubscribe_url="https://news.example.org/u",
        date=GENERATED_AT,
        signer=key,
    )
    published = {f"{name}.".encode(): record.group(1).encode()}
    assert dkim.verify(outgoing.data, dnsfunc=lambda n, timeout=5: published.get(n))

    assert main(["dkim-keygen", "--type", kind, "--domain", DOMAIN, "--key-file", str(path)]) == 2
    assert "a key is never overwritten" in capsys.readouterr().err
    assert path.read_text() == pem
