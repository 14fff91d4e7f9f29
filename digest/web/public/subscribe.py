"""Sign up with double opt-in: the form makes a pending subscriber and plans the confirmation
message in the outbox; the signed link in that message makes them active."""

from __future__ import annotations

import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.ingest.checks import email_problem, normal_email
from digest.models import SubscriberStatus
from digest.names import person_name
from digest.schedule.confirmations import plan_confirmation
from digest.web.pages import context_of, page
from digest.web.public.forms import (
    CSRF_FIELD,
    csrf_ok,
    csrf_value,
    endpoint,
    methods,
    private,
    set_csrf_cookie,
    signed_url,
    token_subscriber,
    token_subscriber_id,
)

MAX_EMAIL = 254  # RFC 5321's limit on a forward path
MAX_NAME = 100


def subscribe_form(request: Request) -> Response:
    # Prefilled from ?email= (the "subscribe again" links); shown escaped, never trusted.
    return _form_page(request, email=request.query_params.get("email", "")[:MAX_EMAIL])


def _form_page(
    request: Request, *, status_code: int = 200, email: str = "", name: str = "", error: str = ""
) -> Response:
    token = csrf_value(request)
    response = page(
        request,
        "public/subscribe.html.j2",
        status_code=status_code,
        csrf_field=CSRF_FIELD,
        csrf=token,
        email=email,
        name=name,
        error=error,
    )
    return set_csrf_cookie(request, response, token)


def subscribe(request: Request, form: FormData) -> Response:
    email = _field(form, "email")
    name = " ".join(_field(form, "name").split())[:MAX_NAME]
    if not csrf_ok(request, form):
        message = "This form had expired. It is ready again: send it once more."
        return _form_page(request, status_code=403, email=email, name=name, error=message)
    problem = "is too long" if len(email) > MAX_EMAIL else email_problem(email)
    if problem:
        return _form_page(
            request, status_code=400, email=email, name=name, error=f"Your address {problem}."
        )
    ctx = context_of(request)
    subscriber, needs_confirmation = ctx.store.request_subscription(
        email=normal_email(email),
        name=person_name(name),
        # Random, never derived from the address: the links of someone forgotten stay dead.
        new_id=f"web-{secrets.token_hex(8)}",
        timezone=ctx.settings.site.timezone,
    )
    if needs_confirmation and subscriber is not None:
        plan_confirmation(ctx, subscriber)
    # The same answer whoever asks: the form must not tell who is subscribed already.
    return private(page(request, "public/sent.html.j2", email=normal_email(email)))


def confirm_page(request: Request) -> Response:
    subscriber = token_subscriber(request, "confirm")
    return private(page(request, "public/confirm.html.j2", subscriber=subscriber, done=False))


def confirm(request: Request, form: FormData) -> Response:
    ctx = context_of(request)
    subscriber_id = token_subscriber_id(request, "confirm")
    subscriber = ctx.store.confirm_subscriber(subscriber_id, ctx.clock())
    if subscriber is None:
        return confirm_page(request)  # the 404 of a forgotten subscriber
    preferences = signed_url(request, "preferences", subscriber.id, "preferences")
    status = 200 if subscriber.status is SubscriberStatus.ACTIVE else 409
    return private(
        page(
            request,
            "public/confirm.html.j2",
            status_code=status,
            subscriber=subscriber,
            done=True,
            preferences_link=preferences,
        )
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


routes = [
    Route(
        "/subscribe",
        endpoint(subscribe_form, subscribe),
        methods=methods(subscribe_form, subscribe),
        name="subscribe",
    ),
    Route(
        "/confirm/{token}",
        endpoint(confirm_page, confirm),
        methods=methods(confirm_page, confirm),
        name="confirm",
    ),
]
