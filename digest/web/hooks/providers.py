"""Bounce and complaint webhooks: Postmark, Mailgun, and Amazon SES through SNS.

Each endpoint first proves the call came from the provider (Postmark: HTTP basic auth; Mailgun:
HMAC-SHA256 of timestamp+token with the webhook signing key, and a fresh timestamp; SNS: the
message's RSA signature, from a certificate on an SNS host, for an allowed topic) and only then
reads the events. A hard bounce makes the address `bounced`, a spam complaint `complained`; both
put it on the suppression list. Soft bounces and every other event change nothing. An endpoint
whose provider has no secret configured does not exist (404). How to point each provider here:
docs/webhooks.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.models import SubscriberStatus
from digest.settings import WebhookSettings
from digest.web.pages import context_of
from digest.web.throttle import Policy, Throttle

if TYPE_CHECKING:
    from digest.web.hooks import sns  # imported when used: only SES needs it

MAX_BODY_BYTES = 1_000_000  # a batch of events is a few KB; anything this large is not one
BOUNCED, COMPLAINED = SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED
# Postmark's bounce Types that mean the address will never take mail (the rest are transient,
# auto-replies, challenge messages and the like).
POSTMARK_HARD_BOUNCES = frozenset({"HardBounce", "BadEmailAddress"})


@dataclass(frozen=True, slots=True)
class Event:
    email: str
    status: SubscriberStatus  # bounced or complained


class Refused(Exception):
    """The call is not from the provider, or not readable: answered with `status`, changes
    nothing."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


# --- Postmark ------------------------------------------------------------------------------------


def check_postmark_auth(authorization: str | None, settings: WebhookSettings) -> None:
    assert settings.postmark_username is not None and settings.postmark_password is not None
    challenge = {"WWW-Authenticate": 'Basic realm="digest webhooks"'}
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        raise Refused(401, "Postmark webhooks need HTTP basic auth", challenge)
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Refused(401, "malformed basic auth", challenge) from exc
    # Both compared, always: how long the answer takes says nothing about which one was wrong.
    user_ok = hmac.compare_digest(username.encode(), settings.postmark_username.reveal().encode())
    password_ok = hmac.compare_digest(
        password.encode(), settings.postmark_password.reveal().encode()
    )
    if not (user_ok and password_ok):
        raise Refused(401, "wrong user or password", challenge)


def postmark_events(payload: Any) -> Iterator[Event]:
    """Postmark posts one record per call: a Bounce (its Type says which kind) or a
    SpamComplaint; other record types (Delivery, Open, …) are ignored."""
    if not isinstance(payload, Mapping):
        raise Refused(400, "a Postmark webhook body is a JSON object")
    kind, email = payload.get("RecordType"), payload.get("Email")
    if kind == "Bounce" and payload.get("Type") in POSTMARK_HARD_BOUNCES:
        yield Event(_address(email), BOUNCED)
    elif kind == "SpamComplaint":
        yield Event(_address(email), COMPLAINED)


# --- Mailgun -------------------------------------------------------------------------------------


def check_mailgun_signature(signature: Any, settings: WebhookSettings, now: float) -> None:
    """`signature`: a webhook's `signature` object, or a route's post (the same three fields)."""
    assert settings.mailgun_signing_key is not None
    if not isinstance(signature, Mapping):
        raise Refused(403, "a Mailgun webhook carries a signature object")
    timestamp, token, given = (signature.get(key) for key in ("timestamp", "token", "signature"))
    if not all(isinstance(value, str | int) for value in (timestamp, token, given)):
        raise Refused(403, "the signature needs timestamp, token and signature")
    expected = hmac.new(
        settings.mailgun_signing_key.reveal().encode(),
        f"{timestamp}{token}".encode(),
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected, str(given).lower()):
        raise Refused(403, "the signature does not match (check the webhook signing key)")
    try:
        age = now - int(str(timestamp))
    except ValueError as exc:
        raise Refused(403, "the signature's timestamp is not a number") from exc
    if abs(age) > settings.mailgun_max_age_seconds:
        # 406: Mailgun does not retry it. A replayed genuine call lands here.
        raise Refused(406, "the signature's timestamp is too old (a replay?) or in the future")


def mailgun_events(payload: Mapping[str, Any]) -> Iterator[Event]:
    """`failed` with severity `permanent` is a hard bounce (temporary ones Mailgun retries
    itself); `complained` is a spam complaint; other events are ignored."""
    data = payload.get("event-data")
    if not isinstance(data, Mapping):
        raise Refused(400, "a Mailgun webhook carries event-data")
    event = data.get("event")
    if event == "failed" and data.get("severity") == "permanent":
        yield Event(_address(data.get("recipient")), BOUNCED)
    elif event == "complained":
        yield Event(_address(data.get("recipient")), COMPLAINED)


# --- Amazon SES through SNS ----------------------------------------------------------------------


def ses_events(notification: Any) -> Iterator[Event]:
    """An SES notification (`notificationType`) or event-publishing record (`eventType`):
    Permanent bounces and complaints name their recipients; Transient and Undetermined bounces
    and a complaint its recipient later called `not-spam` change nothing."""
    if not isinstance(notification, Mapping):
        raise Refused(400, "the SNS Message is not an SES notification")
    kind = notification.get("notificationType") or notification.get("eventType")
    if kind == "Bounce":
        bounce = _mapping(notification.get("bounce"))
        if bounce.get("bounceType") == "Permanent":
            for recipient in _recipients(bounce.get("bouncedRecipients")):
                yield Event(recipient, BOUNCED)
    elif kind == "Complaint":
        complaint = _mapping(notification.get("complaint"))
        if complaint.get("complaintFeedbackType") != "not-spam":
            for recipient in _recipients(complaint.get("complainedRecipients")):
                yield Event(recipient, COMPLAINED)


def _recipients(value: Any) -> Iterator[str]:
    if not isinstance(value, list):
        raise Refused(400, "the SES notification lists no recipients")
    for recipient in value:
        yield _address(_mapping(recipient).get("emailAddress"))


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Refused(400, "the SES notification is missing a part")
    return value


# --- the endpoints -------------------------------------------------------------------------------


def _address(value: Any) -> str:
    if not isinstance(value, str) or "@" not in value or len(value) > 320:
        raise Refused(400, "an event without a usable email address")
    return value.strip()


async def json_body(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, "the body is too large for a webhook")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused(400, "the body is not JSON") from exc


def _record(request: Request, events: list[Event]) -> Response:
    ctx = context_of(request)
    now = ctx.clock()
    for event in events:
        ctx.store.mark_undeliverable(event.email, event.status, now)
    return JSONResponse({"suppressed": len(events)})


def refusal(refused: Refused) -> Response:
    return JSONResponse({"error": refused.reason}, refused.status, headers=refused.headers)


def not_configured(provider: str) -> Response:
    return JSONResponse({"error": f"the {provider} webhook is not configured"}, 404)


def webhook_settings(request: Request) -> WebhookSettings:
    return context_of(request).settings.web.webhooks


async def postmark(request: Request) -> Response:
    settings = webhook_settings(request)
    if settings.postmark_username is None:
        return not_configured("Postmark")
    try:
        check_postmark_auth(request.headers.get("authorization"), settings)
        events = list(postmark_events(await json_body(request)))
    except Refused as refused:
        return refusal(refused)
    return await run_in_threadpool(_record, request, events)


def replay_policy(settings: WebhookSettings) -> Policy:
    """Each Mailgun token is taken once while its timestamp is fresh.

    Mailgun's signature covers timestamp and token, not event-data, so a captured signature
    could carry other events until it goes stale. The tokens taken are counted in the store, so
    a replay is refused by every web process, not only the one that saw the call first.
    """
    return Policy("mailgun-token", f"1 per {settings.mailgun_max_age_seconds} seconds")


def _take_token(request: Request, token: str) -> bool:
    """Take `token` for this call (atomically, in the store); False when it was taken."""
    ctx = context_of(request)
    digest = hashlib.sha256(token.encode()).hexdigest()
    throttle = Throttle(ctx.store.engine, ctx.clock)
    return throttle.hit(replay_policy(webhook_settings(request)), digest).allowed


def _give_back_token(request: Request, token: str) -> None:
    """A call whose events could not be stored gives its token back: Mailgun's retry of it must
    get through."""
    ctx = context_of(request)
    digest = hashlib.sha256(token.encode()).hexdigest()
    Throttle(ctx.store.engine, ctx.clock).clear(replay_policy(webhook_settings(request)), digest)


async def mailgun(request: Request) -> Response:
    settings = webhook_settings(request)
    if settings.mailgun_signing_key is None:
        return not_configured("Mailgun")
    now = context_of(request).clock().timestamp()
    try:
        payload = await json_body(request)
        signature = payload.get("signature") if isinstance(payload, Mapping) else None
        check_mailgun_signature(signature, settings, now)
        token = str(payload["signature"]["token"])
        events = list(mailgun_events(payload))
        if not await run_in_threadpool(_take_token, request, token):
            raise Refused(406, "this signature was used already (a replay?)")
    except Refused as refused:
        return refusal(refused)
    try:
        return await run_in_threadpool(_record, request, events)
    except BaseException:
        await run_in_threadpool(_give_back_token, request, token)
        raise


async def ses(request: Request) -> Response:
    settings = webhook_settings(request)
    if not settings.topics:
        return not_configured("SES (SNS)")
    try:
        message = await json_body(request)
        if not isinstance(message, Mapping):
            raise Refused(400, "an SNS message is a JSON object")
        if message.get("TopicArn") not in settings.topics:
            raise Refused(403, "the SNS topic is not one of web.webhooks.sns_topic_arns")
        return await run_in_threadpool(_handle_sns, request, message)
    except Refused as refused:
        return refusal(refused)


def _handle_sns(request: Request, message: Mapping[str, Any]) -> Response:
    from digest.web.hooks import sns

    ctx = context_of(request)
    try:
        sns.verify(message, _certificates(request), ctx.clock())
    except sns.SnsError as exc:
        raise Refused(403, str(exc)) from exc
    kind = message["Type"]
    if kind == sns.SUBSCRIPTION_CONFIRMATION:
        _confirm_subscription(request, message)
        return JSONResponse({"confirmed": message["TopicArn"]})
    if kind != sns.NOTIFICATION:
        return JSONResponse({"suppressed": 0})  # UnsubscribeConfirmation: nothing to do
    try:
        notification = json.loads(message["Message"])
    except json.JSONDecodeError as exc:
        raise Refused(400, "the SNS Message is not an SES notification") from exc
    if isinstance(notification, Mapping) and notification.get("notificationType") == "Received":
        from digest.web.hooks import inbound  # mail to the unsubscribe address, not an event

        return inbound.ses_received(request, notification)
    return _record(request, list(ses_events(notification)))


def _confirm_subscription(request: Request, message: Mapping[str, Any]) -> None:
    """Visiting SubscribeURL is how a subscription is confirmed; only ever an SNS URL."""
    from digest.web.hooks import sns

    try:
        url = sns.check_sns_url(message.get("SubscribeURL"), "SubscribeURL")
    except sns.SnsError as exc:
        raise Refused(403, str(exc)) from exc
    try:
        response = http_client(request).get(url, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise Refused(502, f"could not confirm the subscription: {exc}") from exc
    if response.status_code != 200:
        raise Refused(502, f"SNS answered {response.status_code} to the subscription confirmation")


def http_client(request: Request) -> httpx.Client:
    """The client that fetches certificates and confirms subscriptions: `app.state.webhook_http`
    if one was put there (tests put one with an httpx.MockTransport), else one made once."""
    state = request.app.state
    client: httpx.Client | None = getattr(state, "webhook_http", None)
    if client is None:
        client = httpx.Client(timeout=10.0)
        state.webhook_http = client
    return client


def _certificates(request: Request) -> sns.CertificateCache:
    from digest.web.hooks import sns

    state = request.app.state
    cache: sns.CertificateCache | None = getattr(state, "sns_certificates", None)
    if cache is None:
        cache = sns.CertificateCache(http_client(request))
        state.sns_certificates = cache
    return cache


routes = [
    Route("/postmark", postmark, methods=["POST"], name="webhook_postmark"),
    Route("/mailgun", mailgun, methods=["POST"], name="webhook_mailgun"),
    Route("/ses", ses, methods=["POST"], name="webhook_ses"),
]
