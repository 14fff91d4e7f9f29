"""Every email adapter through one table of cases.

HTTP services answer through httpx.MockTransport with the requests and answers their
documentation shows; SMTP cases run against a real aiosmtpd server on loopback (STARTTLS and
implicit TLS with a certificate made in the test, AUTH, reply codes). One runner checks what
every case expects: the status, whether a failure is transient, Retry-After, the provider's id,
the provider's words in the response, and that no secret ever appears in it.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from digests_for_tests import SITE, weekly_digest
from message_builders import DOT_STARTS_A_LINE, fast_email, recipient
from smtp_sink import Recorder, free_port, make_certificate, smtp_server

from digest.delivery.email import email_adapter_types
from digest.delivery.email.base import EmailAdapter, Recorded
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.email import EmailParts, EmailRenderer
from digest.render.message import OutgoingEmail, build_message
from digest.render.templates import template_environment
from digest.settings import Settings, parse_settings

REPO = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-token-value"
PASSWORD = "pa55-word-value"

# aiosmtpd knows of TLS only after STARTTLS, so it warns about AUTH over implicit TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def settings_in(root: Path) -> Settings:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    return parse_settings(raw, where="settings.yaml", root=root)


@functools.cache  # build_message picks a random boundary: build each message once
def message(recipient: str = "zoe@example.com", n: int = 0) -> OutgoingEmail:
    data = build_message(
        EmailParts(subject="The week in AI · Zoë", text="Hëllo\n.hidden dot\n", html="<p>Hë</p>"),
        from_address="AMW Digest <digest@news.example.org>",
        to_name="Zoë Müller",
        to_address=recipient,
        message_id=f"<m{n}@news.example.org>",
        date=datetime(2026, 11, 30, 7, tzinfo=UTC),
        list_id="weekly.news.example.org",
        list_name="AMW Weekly",
        unsubscribe_url="https://news.example.org/unsubscribe/t",
        unsubscribe_mailto="mailto:unsubscribe@news.example.org?subject=unsubscribe%20t",
    )
    return OutgoingEmail(
        f"weekly:2026-W48/email/s{n}",
        f"<m{n}@news.example.org>",
        "digest@news.example.org",
        recipient,
        data,
    )


# HTTP services: what each documents ---------------------------------------------------------

Answer = Callable[[httpx.Request], httpx.Response]


def postmark_request(request: httpx.Request) -> None:
    assert request.method == "POST"
    assert str(request.url) == "https://api.postmarkapp.com/email"
    assert request.headers["X-Postmark-Server-Token"] == SECRET
    assert request.headers["Accept"] == "application/json"
    body = json.loads(request.content)
    assert body["To"] == "Zoë Müller <zoe@example.com>"
    assert body["From"] == "AMW Digest <digest@news.example.org>"
    assert body["Subject"] == "The week in AI · Zoë"
    assert body["TextBody"].startswith("Hëllo") and body["HtmlBody"].startswith("<p>Hë")
    assert body["MessageStream"] == "broadcast"
    headers = {header["Name"]: header["Value"] for header in body["Headers"]}
    assert headers["Message-ID"] == "<m0@news.example.org>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/t>")


def mailgun_request(request: httpx.Request) -> None:
    assert str(request.url) == "https://api.mailgun.net/v3/mg.example.org/messages.mime"
    expected = base64.b64encode(f"api:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    content = request.read()
    assert b'name="to"\r\n\r\nzoe@example.com' in content
    assert b'name="message"; filename="message.mime"' in content
    assert message("zoe@example.com").data in content  # the MIME message as built, untouched


def ses_request(request: httpx.Request) -> None:
    assert str(request.url) == "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"
    authorization = request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/ses/aws4_request" in authorization
    assert "Signature=" in authorization and SECRET not in authorization
    assert request.headers["X-Amz-Date"].endswith("Z")
    body = json.loads(request.content)
    assert body["FromEmailAddress"] == "digest@news.example.org"
    assert body["Destination"] == {"ToAddresses": ["zoe@example.com"]}
    assert base64.b64decode(body["Content"]["Raw"]["Data"]) == message("zoe@example.com").data
    assert body["ConfigurationSetName"] == "digest"


def answer(status: int, body: object = None, **headers: str) -> Answer:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return respond


def raising(error: type[httpx.HTTPError]) -> Answer:
    def respond(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return respond


HTTP_OPTIONS: dict[str, dict[str, Any]] = {
    "postmark": {"server_token": SECRET},
    "mailgun": {"domain": "mg.example.org", "api_key": SECRET},
    "ses": {
        "region": "eu-west-1",
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": SECRET,
        "configuration_set": "digest",
    },
}
REQUEST_CHECKS = {"postmark": postmark_request, "mailgun": mailgun_request, "ses": ses_request}
ECHOED = f"invalid token {SECRET}"  # an answer that quotes the secret back must not leak it


@dataclass(frozen=True)
class Case:
    adapter: str
    name: str
    status: DeliveryStatus
    transient: bool = False
    retry_after: float | None = None
    provider_id: str | None = None
    response_has: str | None = None
    http: Answer | None = None
    smtp: dict[str, Any] = field(default_factory=dict)  # server and option variations
    recipient: str = "zoe@example.com"

    @property
    def id(self) -> str:
        return f"{self.adapter}-{self.name}"


CASES = [
    # Postmark
    Case("postmark", "sent", DeliveryStatus.SENT, provider_id="b7bc2f4a-e38e",
         http=answer(200, {"To": "zoe@example.com", "SubmittedAt": "2026-11-30T07:00:00Z",
                           "MessageID": "b7bc2f4a-e38e", "ErrorCode": 0, "Message": "OK"})),
    Case("postmark", "inactive-recipient", DeliveryStatus.REJECTED, response_has="406",
         http=answer(422, {"ErrorCode": 406, "Message": "You tried to send to a recipient "
                           "that has been marked as inactive."})),
    Case("postmark", "bad-token", DeliveryStatus.FAILED, transient=True, response_has="401",
         http=answer(401, {"ErrorCode": 10, "Message": ECHOED})),
    Case("postmark", "rate-limited", DeliveryStatus.FAILED, transient=True, retry_after=30.0,
         http=answer(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"},
                     **{"Retry-After": "30"})),
    Case("postmark", "server-error", DeliveryStatus.FAILED, transient=True, response_has="503",
         http=answer(503, {"Message": "Service unavailable"})),
    Case("postmark", "no-answer", DeliveryStatus.UNKNOWN, http=raising(httpx.ReadTimeout)),
    Case("postmark", "unreachable", DeliveryStatus.FAILED, transient=True,
         http=raising(httpx.ConnectError)),
    # Mailgun
    Case("mailgun", "queued", DeliveryStatus.QUEUED,
         provider_id="<20261130070000.1.ABC@mg.example.org>",
         http=answer(200, {"id": "<20261130070000.1.ABC@mg.example.org>",
                           "message": "Queued. Thank you."})),
    Case("mailgun", "bad-request", DeliveryStatus.REJECTED, response_has="not a valid address",
         http=answer(400, {"message": "to parameter is not a valid address. please check"})),
    Case("mailgun", "forbidden", DeliveryStatus.FAILED, transient=True, response_has="401",
         http=answer(401, {"message": ECHOED})),
    Case("mailgun", "rate-limited", DeliveryStatus.FAILED, transient=True, retry_after=12.0,
         http=answer(429, {"message": "Too many requests"}, **{"Retry-After": "12"})),
    Case("mailgun", "server-error", DeliveryStatus.FAILED, transient=True,
         http=answer(500, {"message": "Internal error"})),
    # Amazon SES v2
    Case("ses", "sent", DeliveryStatus.SENT, provider_id="0102018c-example",
         http=answer(200, {"MessageId": "0102018c-example"})),
    Case("ses", "message-rejected", DeliveryStatus.REJECTED, response_has="MessageRejected",
         http=answer(400, {"message": "Email address is not verified."},
                     **{"x-amzn-ErrorType": "MessageRejected"})),
    Case("ses", "sending-paused", DeliveryStatus.FAILED, transient=True,
         response_has="SendingPaused",
         http=answer(400, {"message": "Sending is paused for this account."},
                     **{"x-amzn-ErrorType": "SendingPausedException"})),
    Case("ses", "throttled", DeliveryStatus.FAILED, transient=True, retry_after=1.0,
         http=answer(429, {"message": "Maximum sending rate exceeded."},
                     **{"x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": "1"})),
    Case("ses", "bad-signature", DeliveryStatus.FAILED, transient=True, response_has="403",
         http=answer(403, {"message": ECHOED})),
    Case("ses", "server-error", DeliveryStatus.FAILED, transient=True,
         http=answer(500, {"message": "InternalFailure"})),
    # SMTP against aiosmtpd
    Case("smtp", "plain", DeliveryStatus.SENT, provider_id="Q000000"),
    Case("smtp", "starttls-auth", DeliveryStatus.SENT, provider_id="Q000000",
         smtp={"tls": "starttls", "auth": True}),
    Case("smtp", "implicit-tls-auth", DeliveryStatus.SENT, provider_id="Q000000",
         smtp={"tls": "implicit", "auth": True}),
    Case("smtp", "without-8bitmime", DeliveryStatus.SENT, smtp={"decode_data": True}),
    Case("smtp", "pipelined", DeliveryStatus.SENT, provider_id="Q000000",
         smtp={"pipelining": True}),
    Case("smtp", "pipelined-4xx", DeliveryStatus.FAILED, transient=True,
         response_has="RCPT TO: 451", recipient="busy@example.com", smtp={"pipelining": True}),
    Case("smtp", "pipelined-5xx", DeliveryStatus.REJECTED, response_has="RCPT TO: 550",
         recipient="gone@example.com", smtp={"pipelining": True}),
    Case("smtp", "address-with-line-break", DeliveryStatus.REJECTED,
         response_has="cannot go in an SMTP command", recipient="a@example.com\r\nRSET",
         smtp={"pipelining": True}),
    Case("smtp", "mailbox-busy-4xx", DeliveryStatus.FAILED, transient=True, response_has="451",
         recipient="busy@example.com"),
    Case("smtp", "no-such-user-5xx", DeliveryStatus.REJECTED, response_has="550 5.1.1",
         recipient="gone@example.com"),
    Case("smtp", "content-refused-5xx", DeliveryStatus.REJECTED, response_has="end of DATA: 554",
         smtp={"data_reply": "554 5.7.1 Message refused"}),
    # Replies about our own setup, not the recipient: failed, retried once it is fixed.
    Case("smtp", "wrong-password", DeliveryStatus.FAILED, transient=True,
         response_has="AUTH refused",
         smtp={"tls": "starttls", "auth": True, "password": SECRET}),
    Case("smtp", "sender-refused-5xx", DeliveryStatus.FAILED, transient=True,
         response_has="MAIL FROM: 553",
         smtp={"mail_reply": "553 5.7.1 Sender address rejected: not owned by user"}),
    Case("smtp", "pipelined-sender-refused-5xx", DeliveryStatus.FAILED, transient=True,
         response_has="MAIL FROM: 553",
         smtp={"pipelining": True,
               "mail_reply": "553 5.7.1 Sender address rejected: not owned by user"}),
    Case("smtp", "auth-required-530", DeliveryStatus.FAILED, transient=True,
         response_has="530 5.7.0", smtp={"mail_reply": "530 5.7.0 Authentication required"}),
    Case("smtp", "relay-denied-554", DeliveryStatus.FAILED, transient=True,
         response_has="RCPT TO: 554 5.7.1", recipient="someone@elsewhere.example.net"),
    Case("smtp", "unreachable", DeliveryStatus.FAILED, transient=True,
         response_has="cannot connect", smtp={"down": True}),
    # Local adapters
    Case("file", "written", DeliveryStatus.SENT),
    Case("console", "printed", DeliveryStatus.SENT, provider_id="<m0@news.example.org>"),
]  # fmt: skip


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def make_adapter(kind: str, options: dict[str, Any], root: Path, **extra: Any) -> EmailAdapter:
    settings = settings_in(root)
    cls = email_adapter_types()[kind]
    parsed = cls.parse_options(options, "email.options", settings)
    return cls(parsed, settings, **extra)


@contextmanager
def smtp_adapter(
    case: Case, root: Path, certificate: tuple[Path, Path]
) -> Iterator[tuple[EmailAdapter, Recorder | None]]:
    variation = case.smtp
    tls = variation.get("tls", "none")
    recorder = Recorder(
        replies={
            "busy@example.com": "451 4.2.1 Mailbox busy, try later",
            "gone@example.com": "550 5.1.1 No such user",
            "someone@elsewhere.example.net": "554 5.7.1 <someone@elsewhere.example.net>: "
            "Relay access denied",
        },
        data_reply=variation.get("data_reply"),
        mail_reply=variation.get("mail_reply"),
        pipelining=variation.get("pipelining", False),
    )
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "security": {"none": "none", "starttls": "starttls", "implicit": "tls"}[tls],
        "ca_file": str(certificate[0]),
        "connections": 1,
        "timeout": 10,
    }
    if variation.get("auth"):
        options.update(username="digest", password=variation.get("password", PASSWORD))
    if variation.get("down"):
        options["port"] = free_port()  # nothing listens there
        adapter = make_adapter("smtp", options, root)
        try:
            yield adapter, None
        finally:
            adapter.close()
        return
    with smtp_server(
        tls=tls,
        certificate=certificate,
        users={"digest": PASSWORD} if variation.get("auth") else None,
        decode_data=variation.get("decode_data", False),
        recorder=recorder,
    ) as server:
        options["port"] = server.port
        adapter = make_adapter("smtp", options, root)
        try:
            yield adapter, recorder
        finally:
            adapter.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_adapter_case(
    case: Case,
    tmp_path: Path,
    certificate: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if "\n" in case.recipient:  # an envelope address no header would take: only the envelope
        sent = dataclasses.replace(message("zoe@example.com"), recipient=case.recipient)
    else:
        sent = message(case.recipient)
    recorder: Recorder | None = None
    if case.http is not None:
        seen: list[httpx.Request] = []
        respond = case.http

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return respond(request)

        adapter = make_adapter(
            case.adapter,
            HTTP_OPTIONS[case.adapter],
            tmp_path,
            transport=httpx.MockTransport(handler),
        )
        try:
            result = adapter.send_guarded(sent)
        finally:
            adapter.close()
        assert len(seen) == 1
        REQUEST_CHECKS[case.adapter](seen[0])
    elif case.adapter == "smtp":
        with smtp_adapter(case, tmp_path, certificate) as (adapter, recorder):
            result = adapter.send_guarded(sent)
    else:
        options = {"directory": str(tmp_path / "out")} if case.adapter == "file" else {}
        adapter = make_adapter(case.adapter, options, tmp_path)
        result = adapter.send_guarded(sent)
    check(case, result)
    if case.adapter == "smtp" and result.status is DeliveryStatus.SENT:
        assert recorder is not None
        (received,) = recorder.received
        assert received.recipients == (case.recipient,)
        assert received.sender == "digest@news.example.org"
        arrived = email.message_from_bytes(received.data, policy=email.policy.default)
        original = email.message_from_bytes(sent.data, policy=email.policy.default)
        assert arrived["Message-ID"] == "<m0@news.example.org>"
        assert texts(arrived) == texts(original)  # dot-stuffing and 7-bit re-encoding undone
        if case.smtp.get("decode_data"):
            assert received.data.isascii()  # no 8BITMIME offered: sent as 7 bit
        if case.smtp.get("auth"):
            assert received.login == "digest"
    if case.adapter == "console":
        assert "zoe@example.com" in capsys.readouterr().out
    if case.adapter == "file":
        assert len(list((tmp_path / "out").iterdir())) == 1


def texts(parsed: Any) -> list[str]:
    return [part.get_content() for part in parsed.walk() if not part.is_multipart()]


def check(case: Case, result: DeliveryResult) -> None:
    assert result.status is case.status, result
    assert result.transient is case.transient, result
    if case.retry_after is not None:
        assert result.retry_after == case.retry_after
    if case.provider_id is not None:
        assert result.provider_id == case.provider_id
    if case.response_has is not None:
        assert result.response is not None and case.response_has in result.response, result
    for secret in (SECRET, PASSWORD):
        assert secret not in (result.response or ""), result


def test_every_adapter_module_has_cases() -> None:
    assert set(email_adapter_types()) == {case.adapter for case in CASES}


def _set_after_a_moment(recorded: Recorded) -> None:
    time.sleep(0.05)
    recorded.set()


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
def test_smtp_server_receives_the_frames_messages_exactly_as_built(
    tmp_path: Path, pipelining: bool
) -> None:
    compiled = EmailRenderer(template_environment(None), SITE).compile(weekly_digest())
    people = [
        recipient(),  # the literals' dots only (the MJML's Outlook style block)
        recipient(name=".x", given_name=".x"),
        recipient(followed=DOT_STARTS_A_LINE),
        recipient(followed=DOT_STARTS_A_LINE, format="text"),
    ]
    sent = [fast_email(compiled, who) for who in people]

    def answered(_row: int, result: DeliveryResult) -> Recorded:
        assert result.status is DeliveryStatus.SENT, result
        recorded = Recorded()
        # Recorded a moment later: the next message waits for it with all but its final dot sent.
        # A sleep, not threading.Timer: under libfaketime a timed wait never ends.
        threading.Thread(target=_set_after_a_moment, args=(recorded,)).start()
        return recorded

    work = iter(enumerate(sent))
    with smtp_server(recorder=Recorder(pipelining=pipelining)) as server:
        options = {"host": server.host, "port": server.port, "security": "none", "connections": 1}
        adapter = make_adapter("smtp", options, tmp_path)
        try:
            adapter.send_each(lambda: next(work, None), answered)
        finally:
            adapter.close()
    assert [received.data for received in server.recorder.received] == [m.data for m in sent]


def test_smtp_pool_reuses_its_connections(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    with smtp_server(tls="starttls", certificate=certificate, users={"digest": PASSWORD}) as server:
        adapter = make_adapter(
            "smtp",
            {
                "host": server.host,
                "port": server.port,
                "ca_file": str(server.certificate),
                "username": "digest",
                "password": PASSWORD,
                "connections": 4,
            },
            tmp_path,
        )
        try:
            batch = [message(f"reader{n}@example.com", n) for n in range(40)]
            first = adapter.send_many(batch[:20])
            second = adapter.send_many(batch[20:])
        finally:
            adapter.close()
        received = server.recorder.received
    assert [result.status for result in first + second] == [DeliveryStatus.SENT] * 40
    assert sorted(r.recipients[0] for r in received) == sorted(m.recipient for m in batch)
    connections = {r.peer for r in received}
    assert 1 < len(connections) <= 4  # sent in parallel, each connection reused many times


def test_smtp_connection_dropped_by_the_server_is_reopened(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    with smtp_server() as server:
        adapter = make_adapter(
            "smtp",
            {
                "host": server.host,
                "port": server.port,
                "security": "none",
                "connections": 1,
                "messages_per_connection": 2,
            },
            tmp_path,
        )
        try:
            results = adapter.send_many([message(f"r{n}@example.com", n) for n in range(5)])
        finally:
            adapter.close()
        peers = [r.peer for r in server.recorder.received]
    assert all(result.status is DeliveryStatus.SENT for result in results)
    assert len(set(peers)) == 3  # 2 + 2 + 1


def test_smtp_refuses_auth_over_a_plain_connection(tmp_path: Path) -> None:
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="security"):
        make_adapter("smtp", {"security": "none", "username": "u", "password": PASSWORD}, tmp_path)


def test_an_oversized_message_is_rejected_without_calling_the_service(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []
    adapter = make_adapter(
        "postmark",
        HTTP_OPTIONS["postmark"],
        tmp_path,
        transport=httpx.MockTransport(lambda request: calls.append(request) or httpx.Response(200)),
    )
    big = message("zoe@example.com")
    big = OutgoingEmail(big.key, big.message_id, big.sender, big.recipient, b"x" * (11 << 20))
    result = adapter.send_guarded(big)
    assert result.status is DeliveryStatus.REJECTED and calls == []


def test_smtp_connection_the_server_closed_while_idle_is_reopened_at_once(
    tmp_path: Path,
) -> None:
    with smtp_server() as first:
        port = first.port
        adapter = make_adapter(
            "smtp",
            {"host": first.host, "port": port, "security": "none", "connections": 1},
            tmp_path,
        )
        assert adapter.send_guarded(message("r0@example.com", 0)).status is DeliveryStatus.SENT
    try:
        # The server went away and came back: the pooled connection is closed at its end.
        with smtp_server(port=port) as second:
            result = adapter.send_guarded(message("r1@example.com", 1))
            received = second.recorder.received
    finally:
        adapter.close()
    assert result.status is DeliveryStatus.SENT, result  # not a failure waiting for a retry
    assert [r.recipients for r in received] == [("r1@example.com",)]
