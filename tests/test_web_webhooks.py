"""Bounce and complaint webhooks: genuine provider calls suppress, anything else changes nothing.

SNS signatures are made here with an RSA key and a self-signed certificate that an
httpx.MockTransport serves at an SNS URL; the app fetches it through the client the test puts
on `app.state.webhook_http`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from digest.context import Context
from digest.errors import ConfigError
from digest.ingest import read_subscribers
from digest.links import make_token, unsubscribe_mailto
from digest.models import Subscriber, SubscriberStatus
from digest.render.templates import template_environment
from digest.settings import parse_settings
from digest.store import Store
from digest.store.subscriptions import suppressed_count
from digest.web.app import create_app
from digest.web.hooks import sns

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ZOE = "zoe.mueller@example.com"  # sub-001, active in the sample subscribers
JOSE = "jose.alvarez@example.org"  # sub-002, active

POSTMARK_USER, POSTMARK_PASSWORD = "digest-hooks", "a-long-random-postmark-password"
MAILGUN_KEY = "key-0123456789abcdef0123456789abcdef"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:digest-ses-events"
OTHER_TOPIC = "arn:aws:sns:eu-west-1:999999999999:someone-elses-topic"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
SUBSCRIBE_URL = (
    f"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=t0k"
)
FOREIGN_CERT_URL = "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"
WEBHOOKS = {
    "postmark_username": POSTMARK_USER,
    "postmark_password": POSTMARK_PASSWORD,
    "mailgun_signing_key": MAILGUN_KEY,
    "sns_topic_arns": [TOPIC],
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- keys, certificates and the fake AWS side ---------------------------------------------------


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    pem: bytes  # its self-signed certificate

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        message = {**message, "SignatureVersion": version}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(sns.canonical_string(message), padding.PKCS1v15(), algorithm)
        return {**message, "Signature": base64.b64encode(signature).decode()}


def make_signer(common_name: str) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return Signer(key, certificate.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def aws() -> Signer:
    return make_signer("sns.amazonaws.com")


@pytest.fixture(scope="module")
def forger() -> Signer:
    return make_signer("sns.amazonaws.com")  # same name, different key


@dataclass
class AwsSide:
    """What the app's HTTP client reaches: certificates by URL, and SubscribeURL."""

    certificates: dict[str, bytes]
    requests: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if url in self.certificates:
            return httpx.Response(200, content=self.certificates[url])
        if url == SUBSCRIBE_URL:
            return httpx.Response(200, text="<ConfirmSubscriptionResponse/>")
        return httpx.Response(404)


@pytest.fixture
def aws_side(aws: Signer, forger: Signer) -> AwsSide:
    return AwsSide({CERT_URL: aws.pem, FOREIGN_CERT_URL: forger.pem})


# --- the app -------------------------------------------------------------------------------------


def open_context(tmp_path: Path, webhooks: dict[str, Any] | None) -> Context:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    if webhooks is not None:
        raw["web"]["webhooks"] = webhooks
        raw["site"]["unsubscribe_mailto_reader"] = "postmark"
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    store.save_subscribers(read_subscribers(REPO / "digest" / "data" / "sample-subscribers.csv"))
    return Context(settings=settings, store=store, env=template_environment(), clock=lambda: NOW)


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Context]:
    ctx = open_context(tmp_path, WEBHOOKS)
    yield ctx
    ctx.store.close()


@pytest.fixture
async def client(context: Context, aws_side: AwsSide) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context)
    app.state.webhook_http = httpx.Client(transport=httpx.MockTransport(aws_side.handle))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client
    app.state.webhook_http.close()


Snapshot = tuple[list[Subscriber], int, dict[str, str]]


def snapshot(store: Store) -> Snapshot:
    subscribers = store.subscribers()
    emails = [subscriber.email for subscriber in subscribers]
    return subscribers, suppressed_count(store.engine), store.suppression_reasons(emails)


def status_of(store: Store, email: str) -> SubscriberStatus:
    subscriber = store.subscriber_by_email(email)
    assert subscriber is not None
    return subscriber.status


# --- what each provider posts --------------------------------------------------------------------


def postmark_auth(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def postmark_bounce(kind: str, email: str = ZOE) -> dict[str, Any]:
    # As Postmark's bounce webhook posts it (fields trimmed to those that matter plus a few).
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": kind,
        "TypeCode": {"HardBounce": 1, "Transient": 2, "SoftBounce": 4096}.get(kind, 100000),
        "Name": "Hard bounce",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "digest@example.com",
        "BouncedAt": "2026-11-29T11:58:00Z",
        "Inactive": True,
        "CanActivate": True,
    }


def postmark_complaint(email: str = ZOE) -> dict[str, Any]:
    return {**postmark_bounce("SpamComplaint", email), "RecordType": "SpamComplaint"}


def mailgun_call(
    event_data: dict[str, Any], *, key: str = MAILGUN_KEY, at: datetime = NOW, token: str = "t" * 50
) -> dict[str, Any]:
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": digest},
        "event-data": event_data,
    }


def mailgun_failed(severity: str, email: str = ZOE) -> dict[str, Any]:
    return {
        "event": "failed",
        "severity": severity,
        "reason": "bounce" if severity == "permanent" else "generic",
        "recipient": email,
        "timestamp": NOW.timestamp(),
        "delivery-status": {"code": 550, "message": "5.1.1 No such user"},
    }


def mailgun_complained(email: str = ZOE) -> dict[str, Any]:
    return {"event": "complained", "recipient": email, "timestamp": NOW.timestamp()}


def ses_bounce(bounce_type: str, *emails: str) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": email, "action": "failed", "status": "5.1.1"}
                for email in emails or (ZOE,)
            ],
            "timestamp": "2026-11-29T11:58:00.000Z",
            "feedbackId": "0100017a-bounce",
        },
        "mail": {"source": "digest@example.com", "destination": list(emails or (ZOE,))},
    }


def ses_event_bounce() -> dict[str, Any]:
    """The same bounce from SES event publishing: `eventType` instead of `notificationType`."""
    record = ses_bounce("Permanent")
    record["eventType"] = record.pop("notificationType")
    return record


def ses_complaint(feedback: str = "abuse", email: str = ZOE) -> dict[str, Any]:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": email}],
            "complaintFeedbackType": feedback,
            "timestamp": "2026-11-29T11:58:00.000Z",
            "feedbackId": "0100017a-complaint",
        },
        "mail": {"source": "digest@example.com", "destination": [email]},
    }


def sns_notification(
    ses: dict[str, Any], *, topic: str = TOPIC, cert_url: str = CERT_URL
) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": topic,
        "Message": json.dumps(ses),
        "Timestamp": "2026-11-29T11:58:01.000Z",
        "SigningCertURL": cert_url,
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


def sns_confirmation(*, topic: str = TOPIC, subscribe_url: str = SUBSCRIBE_URL) -> dict[str, Any]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "t0k",
        "TopicArn": topic,
        "Message": f"You have chosen to subscribe to the topic {topic}.",
        "SubscribeURL": subscribe_url,
        "Timestamp": "2026-11-29T11:50:00.000Z",
        "SigningCertURL": CERT_URL,
    }


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


async def post(client: httpx.AsyncClient, call: Call) -> httpx.Response:
    # SNS posts JSON as text/plain; the endpoints read the body whatever its type says.
    return await client.post(call.path, content=json.dumps(call.body), headers=call.headers)


Build = Callable[[Signer, Signer], Call]


def postmark(body: dict[str, Any], headers: dict[str, str] | None = None) -> Build:
    return lambda aws, forger: Call("/webhooks/postmark", body, postmark_auth() | (headers or {}))


def mailgun(body: dict[str, Any]) -> Build:
    return lambda aws, forger: Call("/webhooks/mailgun", body)


def ses(make: Callable[[Signer, Signer], dict[str, Any]]) -> Build:
    return lambda aws, forger: Call("/webhooks/ses", make(aws, forger))


# --- genuine events ------------------------------------------------------------------------------

GENUINE: dict[str, tuple[Build, SubscriberStatus]] = {
    "postmark hard bounce": (postmark(postmark_bounce("HardBounce")), SubscriberStatus.BOUNCED),
    "postmark bad address": (
        postmark(postmark_bounce("BadEmailAddress")),
        SubscriberStatus.BOUNCED,
    ),
    "postmark spam complaint": (postmark(postmark_complaint()), SubscriberStatus.COMPLAINED),
    "mailgun permanent failure": (
        mailgun(mailgun_call(mailgun_failed("permanent"))),
        SubscriberStatus.BOUNCED,
    ),
    "mailgun complaint": (mailgun(mailgun_call(mailgun_complained())), SubscriberStatus.COMPLAINED),
    "ses permanent bounce, SignatureVersion 1": (
        ses(lambda aws, _: aws.sign(sns_notification(ses_bounce("Permanent")), "1")),
        SubscriberStatus.BOUNCED,
    ),
    "ses complaint, SignatureVersion 2": (
        ses(lambda aws, _: aws.sign(sns_notification(ses_complaint()), "2")),
        SubscriberStatus.COMPLAINED,
    ),
    "ses event publishing bounce": (
        ses(lambda aws, _: aws.sign(sns_notification(ses_event_bounce()), "2")),
        SubscriberStatus.BOUNCED,
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(GENUINE))
async def test_a_genuine_bounce_or_complaint_suppresses_the_address(
    case: str, client: httpx.AsyncClient, context: Context, aws: Signer, forger: Signer
) -> None:
    build, status = GENUINE[case]
    response = await post(client, build(aws, forger))
    assert response.status_code == 200, response.text
    assert response.json() == {"suppressed": 1}
    assert status_of(context.store, ZOE) is status
    assert context.store.suppression_reasons([ZOE.upper()]) == {ZOE: status.value}
    assert status_of(context.store, JOSE) is SubscriberStatus.ACTIVE


# --- events that are not hard bounces or complaints ----------------------------------------------

IGNORED: dict[str, Build] = {
    "postmark soft bounce": postmark(postmark_bounce("SoftBounce")),
    "postmark transient": postmark(postmark_bounce("Transient")),
    "postmark delivery": postmark({"RecordType": "Delivery", "Recipient": ZOE}),
    "mailgun temporary failure": mailgun(mailgun_call(mailgun_failed("temporary"))),
    "mailgun delivered": mailgun(
        mailgun_call({"event": "delivered", "recipient": ZOE}, token="d" * 50)
    ),
    "ses transient bounce": ses(
        lambda aws, _: aws.sign(sns_notification(ses_bounce("Transient")), "2")
    ),
    "ses undetermined bounce": ses(
        lambda aws, _: aws.sign(sns_notification(ses_bounce("Undetermined")), "1")
    ),
    "ses complaint withdrawn as not-spam": ses(
        lambda aws, _: aws.sign(sns_notification(ses_complaint("not-spam")), "2")
    ),
    "ses delivery": ses(
        lambda aws, _: aws.sign(sns_notification({"notificationType": "Delivery"}), "2")
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(IGNORED))
async def test_soft_bounces_and_other_events_change_nothing(
    case: str, client: httpx.AsyncClient, context: Context, aws: Signer, forger: Signer
) -> None:
    before = snapshot(context.store)
    response = await post(client, IGNORED[case](aws, forger))
    assert response.status_code == 200, response.text
    assert response.json() == {"suppressed": 0}
    assert snapshot(context.store) == before


# --- calls that are not from the provider --------------------------------------------------------


def tampered(message: dict[str, Any]) -> dict[str, Any]:
    """A genuinely signed notification whose Message was changed afterwards."""
    forged = copy.deepcopy(message)
    forged["Message"] = json.dumps(ses_bounce("Permanent", JOSE))
    return forged


REFUSED: dict[str, tuple[Build, int]] = {
    "postmark without auth": (
        lambda aws, forger: Call("/webhooks/postmark", postmark_bounce("HardBounce")),
        401,
    ),
    "postmark wrong password": (
        postmark(postmark_bounce("HardBounce"), postmark_auth(password="guess")),
        401,
    ),
    "postmark wrong user": (
        postmark(postmark_bounce("HardBounce"), postmark_auth(user="admin")),
        401,
    ),
    "postmark bearer token": (
        postmark(postmark_bounce("HardBounce"), {"Authorization": "Bearer x"}),
        401,
    ),
    "mailgun unsigned": (mailgun({"event-data": mailgun_failed("permanent")}), 403),
    "mailgun signed with the wrong key": (
        mailgun(mailgun_call(mailgun_failed("permanent"), key="key-not-the-right-one-000000")),
        403,
    ),
    "mailgun stale timestamp": (
        mailgun(mailgun_call(mailgun_failed("permanent"), at=NOW - timedelta(minutes=10))),
        406,
    ),
    "mailgun timestamp in the future": (
        mailgun(mailgun_call(mailgun_failed("permanent"), at=NOW + timedelta(minutes=10))),
        406,
    ),
    "ses unsigned": (ses(lambda aws, _: sns_notification(ses_bounce("Permanent"))), 403),
    "ses message changed after signing": (
        ses(lambda aws, _: tampered(aws.sign(sns_notification(ses_bounce("Permanent")), "2"))),
        403,
    ),
    "ses signed with another key": (
        ses(lambda _, forger: forger.sign(sns_notification(ses_bounce("Permanent")), "2")),
        403,
    ),
    "ses certificate on a foreign host": (
        ses(
            lambda _, forger: forger.sign(
                sns_notification(ses_bounce("Permanent"), cert_url=FOREIGN_CERT_URL), "2"
            )
        ),
        403,
    ),
    "ses certificate over http": (
        ses(
            lambda aws, _: aws.sign(
                sns_notification(
                    ses_bounce("Permanent"), cert_url=CERT_URL.replace("https", "http")
                ),
                "2",
            )
        ),
        403,
    ),
    "ses unknown topic": (
        ses(
            lambda aws, _: aws.sign(
                sns_notification(ses_bounce("Permanent"), topic=OTHER_TOPIC), "2"
            )
        ),
        403,
    ),
    "ses unknown signature version": (
        ses(
            lambda aws, _: {
                **aws.sign(sns_notification(ses_bounce("Permanent"))),
                "SignatureVersion": "3",
            }
        ),
        403,
    ),
    "ses version 1 signature claimed as version 2": (
        ses(
            lambda aws, _: {
                **aws.sign(sns_notification(ses_bounce("Permanent")), "1"),
                "SignatureVersion": "2",
            }
        ),
        403,
    ),
    "ses subscription for an unknown topic": (
        ses(lambda aws, _: aws.sign(sns_confirmation(topic=OTHER_TOPIC), "2")),
        403,
    ),
    "ses subscription confirmed at a foreign URL": (
        ses(
            lambda aws, _: aws.sign(
                sns_confirmation(subscribe_url="https://evil.example/?Action=ConfirmSubscription"),
                "2",
            )
        ),
        403,
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(REFUSED))
async def test_an_unsigned_or_forged_call_is_refused_and_changes_nothing(
    case: str,
    client: httpx.AsyncClient,
    context: Context,
    aws: Signer,
    forger: Signer,
    aws_side: AwsSide,
) -> None:
    build, status = REFUSED[case]
    before = snapshot(context.store)
    response = await post(client, build(aws, forger))
    assert response.status_code == status, response.text
    assert snapshot(context.store) == before
    # Nothing was fetched from where the message pointed, and no subscription was confirmed.
    assert FOREIGN_CERT_URL not in aws_side.requests
    assert SUBSCRIBE_URL not in aws_side.requests
    assert all(url.startswith("https://sns.eu-west-1.amazonaws.com/") for url in aws_side.requests)


@pytest.mark.anyio
async def test_a_mailgun_signature_is_taken_once(
    client: httpx.AsyncClient, context: Context
) -> None:
    first = mailgun_call(mailgun_failed("temporary"), token="r" * 50)
    assert (await post(client, Call("/webhooks/mailgun", first))).status_code == 200
    # Mailgun's signature does not cover event-data: a replay with other events is refused.
    replay = {**first, "event-data": mailgun_failed("permanent")}
    before = snapshot(context.store)
    response = await post(client, Call("/webhooks/mailgun", replay))
    assert response.status_code == 406
    assert snapshot(context.store) == before


@pytest.mark.anyio
async def test_a_mailgun_replay_is_refused_by_another_web_process(
    client: httpx.AsyncClient, context: Context
) -> None:
    first = mailgun_call(mailgun_failed("temporary"), token="p" * 50)
    assert (await post(client, Call("/webhooks/mailgun", first))).status_code == 200
    # A second process: its own engine on the same database, its own app.
    other = replace(context, store=Store.open(context.store.engine.url.render_as_string()))
    try:
        transport = httpx.ASGITransport(app=create_app(other))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as second:
            replay = {**first, "event-data": mailgun_failed("permanent")}
            response = await post(second, Call("/webhooks/mailgun", replay))
            fresh = mailgun_call(mailgun_failed("temporary"), token="q" * 50)
            accepted = await post(second, Call("/webhooks/mailgun", fresh))
    finally:
        other.store.close()
    assert response.status_code == 406
    assert accepted.status_code == 200


@pytest.mark.anyio
async def test_a_mailgun_call_that_could_not_be_stored_gives_its_token_back(
    client: httpx.AsyncClient, context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = mailgun_call(mailgun_failed("permanent"), token="f" * 50)

    def broken(*_: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(context.store, "mark_undeliverable", broken)
        with pytest.raises(OSError):
            await post(client, Call("/webhooks/mailgun", call))
    retried = await post(client, Call("/webhooks/mailgun", call))  # Mailgun retries it
    assert retried.status_code == 200


# --- SNS subscriptions and certificates ----------------------------------------------------------


@pytest.mark.anyio
async def test_an_sns_subscription_for_an_allowed_topic_is_confirmed(
    client: httpx.AsyncClient, context: Context, aws: Signer, aws_side: AwsSide
) -> None:
    before = snapshot(context.store)
    response = await post(client, Call("/webhooks/ses", aws.sign(sns_confirmation(), "1")))
    assert response.status_code == 200, response.text
    assert response.json() == {"confirmed": TOPIC}
    assert aws_side.requests == [CERT_URL, SUBSCRIBE_URL]
    assert snapshot(context.store) == before


@pytest.mark.anyio
async def test_a_signing_certificate_is_fetched_once(
    client: httpx.AsyncClient, context: Context, aws: Signer, aws_side: AwsSide
) -> None:
    for email in (ZOE, JOSE):
        message = aws.sign(sns_notification(ses_bounce("Permanent", email)), "2")
        assert (await post(client, Call("/webhooks/ses", message))).status_code == 200
    assert aws_side.requests == [CERT_URL]
    assert status_of(context.store, JOSE) is SubscriberStatus.BOUNCED


def test_the_canonical_string_follows_the_documented_field_order() -> None:
    message = sns_notification({"notificationType": "Bounce"})
    expected = (
        f"Message\n{message['Message']}\nMessageId\n{message['MessageId']}\n"
        f"Timestamp\n{message['Timestamp']}\nTopicArn\n{TOPIC}\nType\nNotification\n"
    )
    assert sns.canonical_string(message) == expected.encode()
    with_subject = {**message, "Subject": "Amazon SES Email Event Notification"}
    assert b"Subject\nAmazon SES Email Event Notification\nTimestamp\n" in sns.canonical_string(
        with_subject
    )
    confirmation = sns.canonical_string(sns_confirmation()).decode()
    assert confirmation.split("\n")[::2][:7] == list(sns.SIGNED_FIELDS["SubscriptionConfirmation"])


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
    ],
)
def test_certificates_come_from_sns_hosts(url: str) -> None:
    assert sns.check_sns_url(url, "SigningCertURL") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.us-east-1.amazonaws.com/cert.pem",
        None,
    ],
)
def test_certificates_from_elsewhere_are_refused(url: str | None) -> None:
    with pytest.raises(sns.SnsError):
        sns.check_sns_url(url, "SigningCertURL")


# --- nothing configured --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "case", ["postmark hard bounce", "mailgun complaint", "ses complaint, SignatureVersion 2"]
)
async def test_a_provider_without_a_secret_has_no_endpoint(
    case: str, tmp_path: Path, aws: Signer, forger: Signer
) -> None:
    context = open_context(tmp_path, None)  # settings.yaml as shipped, no variables set
    try:
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            before = snapshot(context.store)
            response = await post(client, GENUINE[case][0](aws, forger))
            assert response.status_code == 404
            assert snapshot(context.store) == before
    finally:
        context.store.close()


# --- mail to the unsubscribe address -------------------------------------------------------------

ZOE_ID = "sub-001"


def mailed_subject(context: Context, subscriber_id: str = ZOE_ID) -> str:
    """The subject a mail client writes from an email's List-Unsubscribe mailto (RFC 6068)."""
    mailto = unsubscribe_mailto(context.settings.site, subscriber_id)
    assert mailto is not None
    address, _, query = urlsplit(mailto).path, None, urlsplit(mailto).query
    assert address == "unsubscribe@news.example.org"
    return parse_qs(query)["subject"][0]


def mailgun_route_form(fields: dict[str, str], *, at: datetime = NOW) -> dict[str, str]:
    """As a Mailgun route's forward() posts a mail: its fields and the signature's three."""
    signature = mailgun_call({}, at=at, token="m" * 50)["signature"]
    return {**fields, **signature}


def postmark_inbound(subject: str, body: str = "", mailbox_hash: str = "") -> dict[str, Any]:
    # Postmark's inbound webhook JSON, trimmed to the fields that matter plus a few.
    return {
        "From": ZOE,
        "FromFull": {"Email": ZOE, "Name": "Zoë Müller", "MailboxHash": ""},
        "To": "unsubscribe@news.example.org",
        "ToFull": [{"Email": "unsubscribe@news.example.org", "Name": "", "MailboxHash": ""}],
        "OriginalRecipient": "unsubscribe@news.example.org",
        "Subject": subject,
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "Date": "Sun, 29 Nov 2026 12:00:00 +0100",
        "MailboxHash": mailbox_hash,
        "TextBody": body,
        "HtmlBody": "",
        "Headers": [{"Name": "X-Spam-Status", "Value": "No"}],
        "Attachments": [],
    }


def ses_received(subject: str) -> dict[str, Any]:
    # An SES receipt rule's SNS action, as its documentation's example shows it (trimmed).
    return {
        "notificationType": "Received",
        "receipt": {
            "timestamp": "2026-11-29T11:58:00.000Z",
            "recipients": ["unsubscribe@news.example.org"],
            "spamVerdict": {"status": "PASS"},
            "action": {"type": "SNS", "topicArn": TOPIC, "encoding": "UTF8"},
        },
        "mail": {
            "source": ZOE,
            "destination": ["unsubscribe@news.example.org"],
            "commonHeaders": {
                "from": [ZOE],
                "to": ["unsubscribe@news.example.org"],
                "subject": subject,
            },
        },
        "content": f"From: {ZOE}\r\nSubject: {subject}\r\n\r\n\r\n",
    }


async def send_mail(
    client: httpx.AsyncClient, aws: Signer, provider: str, subject: str, body: str = ""
) -> httpx.Response:
    if provider == "postmark":
        mail = postmark_inbound(subject, body)
        path, headers = "/webhooks/postmark/inbound", postmark_auth()
        return await client.post(path, content=json.dumps(mail), headers=headers)
    if provider == "mailgun":
        form = mailgun_route_form({"subject": subject, "body-plain": body, "sender": ZOE,
                                   "recipient": "unsubscribe@news.example.org"})  # fmt: skip
        return await client.post("/webhooks/mailgun/inbound", data=form)
    assert provider == "ses"
    signed = aws.sign(sns_notification(ses_received(subject)), "2")
    return await client.post("/webhooks/ses", content=json.dumps(signed))


PROVIDERS = ["postmark", "mailgun", "ses"]


@pytest.mark.anyio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mail_to_the_unsubscribe_address_unsubscribes_its_subscriber(
    provider: str, client: httpx.AsyncClient, context: Context, aws: Signer
) -> None:
    response = await send_mail(client, aws, provider, mailed_subject(context))
    assert response.status_code == 200, response.text
    assert response.json() == {"unsubscribed": 1}
    assert status_of(context.store, ZOE) is SubscriberStatus.UNSUBSCRIBED
    assert context.store.suppression_reasons([ZOE]) == {ZOE: "unsubscribed"}
    assert status_of(context.store, JOSE) is SubscriberStatus.ACTIVE
    # Sent twice (a client's retry): still one unsubscribe, still 200.
    again = await send_mail(client, aws, provider, mailed_subject(context))
    assert again.status_code == 200 and again.json() == {"unsubscribed": 1}


@pytest.mark.anyio
@pytest.mark.parametrize("provider", ["postmark", "mailgun"])
async def test_a_token_in_the_body_counts_when_the_client_rewrote_the_subject(
    provider: str, client: httpx.AsyncClient, context: Context, aws: Signer
) -> None:
    body = f"Please take me off.\n\n> {mailed_subject(context)}\n"
    response = await send_mail(client, aws, provider, "Re: Unsubscribe", body)
    assert response.json() == {"unsubscribed": 1}
    assert status_of(context.store, ZOE) is SubscriberStatus.UNSUBSCRIBED


def _other_purpose(context: Context) -> str:
    return "unsubscribe " + make_token(
        context.settings.site.secret_key.reveal(), ZOE_ID, "preferences"
    )


NOT_UNSUBSCRIBES: dict[str, Callable[[Context], str]] = {
    "a reply without a token": lambda _: "Re: The AMW Weekly",
    "a token signed with another secret": lambda _: (
        "unsubscribe " + make_token("someone-elses-secret-key", ZOE_ID, "unsubscribe")
    ),
    "a token made for the preference link": _other_purpose,
    "a genuine token cut short": lambda context: mailed_subject(context)[:-3],
    "look-alikes only": lambda _: " ".join(f"a{n}.{'b' * 24}" for n in range(50)),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(NOT_UNSUBSCRIBES))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mail_without_a_genuine_token_is_accepted_and_changes_nothing(
    provider: str, case: str, client: httpx.AsyncClient, context: Context, aws: Signer
) -> None:
    before = snapshot(context.store)
    response = await send_mail(client, aws, provider, NOT_UNSUBSCRIBES[case](context))
    # 200: the provider must not retry a mail that will never mean more than it does now.
    assert response.status_code == 200, response.text
    assert response.json()["unsubscribed"] == 0
    assert snapshot(context.store) == before


@pytest.mark.anyio
async def test_inbound_mail_not_from_the_provider_is_refused(
    client: httpx.AsyncClient, context: Context
) -> None:
    before = snapshot(context.store)
    mail = json.dumps(postmark_inbound(mailed_subject(context)))
    unsigned = await client.post("/webhooks/postmark/inbound", content=mail)
    assert unsigned.status_code == 401
    wrong = await client.post(
        "/webhooks/postmark/inbound", content=mail, headers=postmark_auth(password="guess")
    )
    assert wrong.status_code == 401
    form = mailgun_route_form({"subject": mailed_subject(context)})
    forged = await client.post("/webhooks/mailgun/inbound", data={**form, "signature": "0" * 64})
    assert forged.status_code == 403
    stale = mailgun_route_form({"subject": mailed_subject(context)}, at=NOW - timedelta(hours=1))
    assert (await client.post("/webhooks/mailgun/inbound", data=stale)).status_code == 406
    assert snapshot(context.store) == before


@pytest.mark.anyio
async def test_without_a_reader_no_mailto_is_written_and_no_inbound_endpoint_exists(
    tmp_path: Path,
) -> None:
    context = open_context(tmp_path, None)  # settings.yaml as shipped: no webhooks, no reader
    try:
        assert context.settings.site.unsubscribe_mailto == "unsubscribe@news.example.org"
        assert unsubscribe_mailto(context.settings.site, ZOE_ID) is None
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            for path in ("/webhooks/postmark/inbound", "/webhooks/mailgun/inbound"):
                response = await client.post(path, content=b"{}", headers=postmark_auth())
                assert response.status_code == 404, path
    finally:
        context.store.close()


# --- the store ------------------------------------------------------------------------------------


def test_a_complaint_outranks_a_bounce_and_forgotten_stays_forgotten(store: Store) -> None:
    store.save_subscribers(read_subscribers(REPO / "digest" / "data" / "sample-subscribers.csv"))
    complained = store.mark_undeliverable(ZOE, SubscriberStatus.COMPLAINED, NOW)
    assert complained is not None and complained.status is SubscriberStatus.COMPLAINED
    store.mark_undeliverable(ZOE, SubscriberStatus.BOUNCED, NOW)
    assert status_of(store, ZOE) is SubscriberStatus.COMPLAINED
    assert store.suppression_reasons([ZOE]) == {ZOE: "complained"}

    store.forget_subscriber(NOW, email=JOSE)
    assert store.mark_undeliverable(JOSE, SubscriberStatus.BOUNCED, NOW) is None
    assert store.suppression_reasons([JOSE]) == {JOSE: "forgotten"}

    nobody = "nobody@example.net"
    assert store.mark_undeliverable(nobody, SubscriberStatus.BOUNCED, NOW) is None
    assert store.suppression_reasons([nobody]) == {nobody: "bounced"}
    with pytest.raises(ValueError):
        store.mark_undeliverable(nobody, SubscriberStatus.UNSUBSCRIBED, NOW)


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "webhooks", "says"),
    [
        (
            {"unsubscribe_mailto_reader": "mailgun"},
            {"postmark_username": "digest", "postmark_password": "p" * 20},
            "site: unsubscribe_mailto_reader: mailgun needs web.webhooks.mailgun_signing_key",
        ),
        (
            {"unsubscribe_mailto_reader": "postmark", "unsubscribe_mailto": None},
            WEBHOOKS,
            "site.unsubscribe_mailto_reader: set unsubscribe_mailto",
        ),
        (
            {"unsubscribe_mailto": "Unsubscribe <u@news.example.org>"},
            WEBHOOKS,
            "site.unsubscribe_mailto: write a plain address",
        ),
        ({"unsubscribe_mailto_reader": "imap"}, WEBHOOKS, "site.unsubscribe_mailto_reader"),
    ],
)
def test_the_unsubscribe_mailto_settings_say_what_is_wrong(
    site: dict[str, Any], webhooks: dict[str, Any], says: str, tmp_path: Path
) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["site"].update(site)
    raw["web"]["webhooks"] = webhooks
    with pytest.raises(ConfigError) as error:
        parse_settings(raw, where="settings.yaml", root=tmp_path)
    assert says in str(error.value)


@pytest.mark.parametrize(
    ("webhooks", "key", "says"),
    [
        ({"postmark_username": "digest"}, "postmark_password", "set both"),
        ({"mailgun_signing_key": "short"}, "mailgun_signing_key", "too short"),
        ({"sns_topic_arns": ["digest-ses-events"]}, "sns_topic_arns", "not an SNS topic ARN"),
        ({"mailgun_max_age_seconds": 86400}, "mailgun_max_age_seconds", "from 30 to 3600"),
    ],
)
def test_webhook_settings_say_what_is_wrong(
    webhooks: dict[str, Any], key: str, says: str, tmp_path: Path
) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["web"]["webhooks"] = webhooks
    with pytest.raises(ConfigError) as error:
        parse_settings(raw, where="settings.yaml", root=tmp_path)
    assert f"web.webhooks.{key}" in str(error.value)
    assert says in str(error.value)
