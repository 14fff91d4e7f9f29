"""Sign up with double opt-in: the form makes a pending subscriber and plans the confirmation
message in the outbox; the signed link in that message makes them active.

Two doors lead to one sign-up. `/subscribe` is this site's own form, guarded by a double-submit
cookie. `/subscribe/embed` takes the same form posted from any other site (the snippets the desk
shows, `embed_snippets`), without a cookie, which a cross-site post never carries: it is safe
because a sign-up only ever plans the one confirmation message, and only the page that message's
link opens, on this site and behind its same-origin check, makes anyone a subscriber. Both
doors share what stops abuse: a limit per client address (429 with Retry-After), a honeypot
field, and at most one confirmation per address in ten minutes (`plan_confirmation`).

`?company=SLUG` and `?topic=…` (repeatable) preselect what the new subscriber follows; they are
shown on the form, ticked, to untick. An unknown slug or topic is left out without a word, as
a stale link to a company that has gone should still open a working form.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.context import Context
from digest.ingest.checks import email_problem, normal_email
from digest.links import Expired, site_url
from digest.models import Preferences, SubscriberStatus
from digest.names import person_name
from digest.schedule.confirmations import plan_confirmation
from digest.schedule.ingest import followable
from digest.web.pages import client_address, context_of, page, path_for
from digest.web.public.forms import (
    CSRF_FIELD,
    csrf_ok,
    csrf_value,
    endpoint,
    expired_page,
    form_text,
    form_texts,
    methods,
    private,
    set_csrf_cookie,
    signed_url,
    timed_subscriber,
)
from digest.web.throttle import SIGNUP_PER_CLIENT, Throttle

log = logging.getLogger("digest")

MAX_EMAIL = 254  # RFC 5321's limit on a forward path
MAX_NAME = 100
MAX_CHOICES = 50  # of each kind: more than any real form offers
HONEYPOT = "website"  # a name form-filling programs fill in; hidden from every person


@dataclass(frozen=True, slots=True)
class Choice:
    """One thing to follow, as a ticked checkbox: the form field, its value, its label."""

    field: str
    value: str
    label: str


def chosen(ctx: Context, companies: Sequence[str], topics: Sequence[str]) -> Preferences:
    """What a sign-up follows: the known companies and topics among those given, each once."""
    known = followable(ctx)
    return Preferences(
        companies=tuple(dict.fromkeys(c for c in companies[:MAX_CHOICES] if c in known.companies)),
        topics=tuple(dict.fromkeys(t for t in topics[:MAX_CHOICES] if t in known.topics)),
    )


def choices(ctx: Context, preferences: Preferences) -> list[Choice]:
    names = {slug: company.name for slug, company in ctx.store.companies().items()}
    return [
        *(
            Choice("companies", slug, f"{names.get(slug, slug)}: its own digest, each week")
            for slug in preferences.companies
        ),
        *(
            Choice("topics", topic, f"{topic}, in the weekly digest")
            for topic in preferences.topics
        ),
    ]


def subscribe_form(request: Request) -> Response:
    # Prefilled from ?email= (the "subscribe again" links) and ?company=/?topic=; shown
    # escaped, never trusted.
    query = request.query_params
    wanted = chosen(context_of(request), query.getlist("company"), query.getlist("topic"))
    return _form_page(request, email=query.get("email", "")[:MAX_EMAIL], wanted=wanted)


def _form_page(
    request: Request,
    *,
    status_code: int = 200,
    email: str = "",
    name: str = "",
    wanted: Preferences | None = None,
    error: str = "",
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
        follows=choices(context_of(request), wanted or Preferences()),
        honeypot=HONEYPOT,
        error=error,
    )
    return set_csrf_cookie(request, response, token)


def embed_snippets(request: Request, wanted: Preferences) -> tuple[str, str]:
    """The sign-up form for other sites' pages, as HTML source: (without a script, with one).
    Rendered with autoescape like every page, so a company's name is escaped in the source."""
    ctx = context_of(request)
    site = ctx.settings.site
    template = ctx.env.get_template("web/public/embed.html.j2")
    values = {
        "site": site,
        "action": site_url(site, path_for(request, "subscribe_embedded")),
        "email": "",
        "name": "",
        "follows": choices(ctx, wanted),
        "honeypot": HONEYPOT,
    }
    script = site_url(site, path_for(request, "static", path="embed.js"))
    return template.render(values, script=""), template.render(values, script=script)


def subscribe(request: Request, form: FormData) -> Response:
    return _sign_up(request, form, embedded=False)


def subscribe_embedded(request: Request, form: FormData) -> Response:
    return _sign_up(request, form, embedded=True)


def _sign_up(request: Request, form: FormData, *, embedded: bool) -> Response:
    ctx = context_of(request)
    # Every form sent counts, refused ones too: a program trying addresses or names is what the
    # limit is for.
    verdict = Throttle(ctx.store.engine, ctx.clock).hit(SIGNUP_PER_CLIENT, client_address(request))
    email = form_text(form, "email")
    name = " ".join(form_text(form, "name").split())[:MAX_NAME]
    wanted = chosen(ctx, form_texts(form, "companies"), form_texts(form, "topics"))
    if not verdict.allowed:
        log.warning("sign-up throttled (%s)", client_address(request))
        message = (
            f"Too many sign-ups from your address. Wait {verdict.wait_words} and send the form "
            "again."
        )
        response = _refused(request, embedded, 429, email, name, wanted, message)
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    if not embedded and not csrf_ok(request, form):
        message = "This form had expired. It is ready again: send it once more."
        return _form_page(
            request, status_code=403, email=email, name=name, wanted=wanted, error=message
        )
    problem = "is too long" if len(email) > MAX_EMAIL else email_problem(email)
    if problem:
        message = f"Your address {problem}."
        return _refused(request, embedded, 400, email, name, wanted, message)
    if form_text(form, HONEYPOT):
        # Filled by a program: nothing is stored or sent, and it is told what a person is.
        log.warning("sign-up honeypot filled (%s)", client_address(request))
    else:
        subscriber, needs_confirmation = ctx.store.request_subscription(
            email=normal_email(email),
            name=person_name(name),
            # Random, never derived from the address: the links of someone forgotten stay dead.
            new_id=f"web-{secrets.token_hex(8)}",
            timezone=ctx.settings.site.timezone,
            preferences=wanted,
            now=ctx.clock(),
            own_choice=True,
        )
        if needs_confirmation and subscriber is not None:
            plan_confirmation(ctx, subscriber)
    # The same answer whoever asks: the form must not tell who is subscribed already.
    if _wants_json(request, embedded):
        text = (
            f"Check your inbox: if {normal_email(email)} is not subscribed yet, a message to "
            "confirm it is on its way."
        )
        return _json(200, text)
    return private(page(request, "public/sent.html.j2", email=normal_email(email)))


def _refused(
    request: Request,
    embedded: bool,
    status_code: int,
    email: str,
    name: str,
    wanted: Preferences,
    message: str,
) -> Response:
    """A sign-up not taken: the message as JSON to the embedded form's script, else this
    site's own form again with it, filled in as sent, to correct and send from here."""
    if _wants_json(request, embedded):
        return _json(status_code, message)
    return _form_page(
        request, status_code=status_code, email=email, name=name, wanted=wanted, error=message
    )


def _wants_json(request: Request, embedded: bool) -> bool:
    # The script of the embedded form (static/embed.js) asks for JSON; a plain post, for a page.
    return embedded and "application/json" in request.headers.get("accept", "")


def _json(status_code: int, message: str) -> Response:
    # Readable by the script on any site: the answer holds nothing but the message, the same
    # for whoever asks, and no cookie is read or set.
    response = JSONResponse({"message": message}, status_code=status_code)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return private(response)


def confirm_page(request: Request) -> Response:
    subscriber = timed_subscriber(request, "confirm")
    if isinstance(subscriber, Expired):  # past its 7 days: signing up again mails a new one
        return expired_page(request, "confirm", path_for(request, "subscribe"))
    return private(page(request, "public/confirm.html.j2", subscriber=subscriber, done=False))


def confirm(request: Request, form: FormData) -> Response:
    ctx = context_of(request)
    found = timed_subscriber(request, "confirm")
    if isinstance(found, Expired):
        return confirm_page(request)
    subscriber = ctx.store.confirm_subscriber(found.id, ctx.clock())
    if subscriber is None:
        return confirm_page(request)  # the 404 of a subscriber forgotten since
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


routes = [
    Route(
        "/subscribe",
        endpoint(subscribe_form, subscribe),
        methods=methods(subscribe_form, subscribe),
        name="subscribe",
    ),
    # A GET here (a reload, a link) opens this site's own form.
    Route(
        "/subscribe/embed",
        endpoint(subscribe_form, subscribe_embedded),
        methods=methods(subscribe_form, subscribe_embedded),
        name="subscribe_embedded",
    ),
    Route(
        "/confirm/{token}",
        endpoint(confirm_page, confirm),
        methods=methods(confirm_page, confirm),
        name="confirm",
    ),
]
