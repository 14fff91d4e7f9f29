"""Unsubscribe by mail: the List-Unsubscribe mailto, read through a provider's inbound route.

Every email's mailto (`digest.links.unsubscribe_mailto`) carries the subscriber's signed
unsubscribe token in its subject. The provider that receives mail for that address posts it
here: Postmark's inbound webhook (JSON, with the basic auth of its bounce webhook) at
/webhooks/postmark/inbound, a Mailgun route's forward() (a form, signed as its webhooks are) at
/webhooks/mailgun/inbound, and an SES receipt rule's SNS action on /webhooks/ses. The token is
looked for in the subject, then the recipient address and the text body (some clients drop or
rewrite the subject); the first genuine one unsubscribes its subscriber, as the one-click link
does. Mail without a genuine token (a reply, spam) is accepted and changes nothing: 200, so that
the provider does not retry it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.links import read_token
from digest.web.hooks import providers
from digest.web.pages import context_of

# A token as `digest.links.make_token` writes it: the id in base64url, a dot, 24 characters of
# signature. Only the first few candidates of a field are tried, each text only in its first
# part: a mail stuffed with look-alikes costs no more than a normal one.
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{2,400}\.[A-Za-z0-9_-]{24}(?![A-Za-z0-9_-])")
_CANDIDATES_PER_TEXT = 5
_TEXT_SCANNED = 20_000
MAX_INBOUND_BYTES = 10_000_000  # Postmark posts attachments inline; an unsubscribe mail has none
MAX_FORM_FIELDS = 200


def token_candidates(texts: Iterable[object]) -> Iterable[str]:
    """Strings shaped like an unsubscribe token, in the order the texts come."""
    for text in texts:
        if isinstance(text, str):
            matches = _TOKEN.finditer(text[:_TEXT_SCANNED])
            for _, match in zip(range(_CANDIDATES_PER_TEXT), matches, strict=False):
                yield match.group()


def unsubscribe_by_mail(request: Request, texts: Iterable[object]) -> Response:
    """Unsubscribe the subscriber of the first genuine token in `texts`; 200 either way."""
    ctx = context_of(request)
    secret = ctx.settings.site.secret_key.reveal()
    for candidate in token_candidates(texts):
        subscriber_id = read_token(secret, candidate, "unsubscribe")
        if subscriber_id is not None:
            left = ctx.store.unsubscribe(subscriber_id, ctx.clock())
            return JSONResponse({"unsubscribed": int(left is not None)})
    return JSONResponse({"unsubscribed": 0, "ignored": "no unsubscribe token in this mail"})


def ses_received(request: Request, notification: Mapping[str, Any]) -> Response:
    """An SES receipt notification of an SNS action: the headers SES parsed, and the raw mail."""
    mail = _mapping(notification.get("mail"))
    headers = _mapping(mail.get("commonHeaders"))
    receipt = _mapping(notification.get("receipt"))
    recipients = receipt.get("recipients")
    texts = [
        headers.get("subject"),
        *(recipients if isinstance(recipients, list) else ()),
        notification.get("content"),
    ]
    return unsubscribe_by_mail(request, texts)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


async def postmark_inbound(request: Request) -> Response:
    settings = providers.webhook_settings(request)
    if settings.postmark_username is None:
        return providers.not_configured("Postmark")
    try:
        providers.check_postmark_auth(request.headers.get("authorization"), settings)
        mail = await providers.json_body(request, MAX_INBOUND_BYTES)
        if not isinstance(mail, Mapping):
            raise providers.Refused(400, "a Postmark inbound body is a JSON object")
    except providers.Refused as refused:
        return providers.refusal(refused)
    texts = [
        mail.get("Subject"),
        mail.get("MailboxHash"),
        mail.get("OriginalRecipient"),
        mail.get("TextBody"),
    ]
    return await run_in_threadpool(unsubscribe_by_mail, request, texts)


async def mailgun_inbound(request: Request) -> Response:
    settings = providers.webhook_settings(request)
    if settings.mailgun_signing_key is None:
        return providers.not_configured("Mailgun")
    now = context_of(request).clock().timestamp()
    try:
        try:
            async with request.form(max_files=MAX_FORM_FIELDS, max_fields=MAX_FORM_FIELDS) as form:
                fields = {key: value for key, value in form.items() if isinstance(value, str)}
        except HTTPException as exc:
            # 406: Mailgun does not retry a post that could never be read.
            raise providers.Refused(406, f"not a readable Mailgun form: {exc.detail}") from exc
        # A route's post carries the signature's three fields at the top, not in an object.
        providers.check_mailgun_signature(fields, settings, now)
    except providers.Refused as refused:
        return providers.refusal(refused)
    texts = [fields.get(name) for name in ("subject", "recipient", "body-plain")]
    return await run_in_threadpool(unsubscribe_by_mail, request, texts)


routes = [
    Route("/postmark/inbound", postmark_inbound, methods=["POST"], name="inbound_postmark"),
    Route("/mailgun/inbound", mailgun_inbound, methods=["POST"], name="inbound_mailgun"),
]
