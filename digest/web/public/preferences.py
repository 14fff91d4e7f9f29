"""The preference centre, reached from every email by its signed link: what they receive, in
which format and when. That link is in every newsletter, and a forwarded one hands it on, so it
changes preferences only: downloading everything stored about them (as JSON) and deleting
themselves entirely take a private link, asked for here and mailed to their address, that works
for 30 minutes (`links.LIFETIMES`)."""

from __future__ import annotations

import json
from zoneinfo import available_timezones

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.links import Expired
from digest.models import Subscriber
from digest.schedule.ingest import controlled_topics, followable
from digest.schedule.notices import PrivateLink, plan_private_link
from digest.web.pages import context_of, page, path_for, redirect_to
from digest.web.public.forms import (
    FORGOTTEN,
    FormHandler,
    Handler,
    endpoint,
    expired_page,
    methods,
    private,
    signed_url,
    timed_subscriber,
    token_subscriber,
)
from digest.web.public.preference_form import read_preferences

_ZONES = sorted(available_timezones() - {"localtime"})
_PRIVATE_LINKS: tuple[PrivateLink, ...] = ("data", "delete")


def _choices(request: Request, subscriber: Subscriber) -> tuple[dict[str, str], list[str]]:
    """Companies (slug: name) and topics on offer: those that exist, and what they chose
    before (a choice that no longer exists shows, so that saving it says so)."""
    ctx = context_of(request)
    companies = {slug: company.name for slug, company in ctx.store.companies().items()}
    for slug in subscriber.preferences.companies:
        companies.setdefault(slug, slug)
    topics = sorted({*controlled_topics(ctx), *subscriber.preferences.topics})
    return companies, topics


def _form(
    request: Request,
    subscriber: Subscriber,
    *,
    status_code: int = 200,
    problems: dict[str, str] | None = None,
    chosen: FormData | None = None,
) -> Response:
    companies, topics = _choices(request, subscriber)
    preferences = subscriber.preferences
    site = context_of(request).settings.site
    values = {
        "weekly": preferences.weekly,
        "companies": set(preferences.companies),
        "topics": set(preferences.topics),
        "format": preferences.format,
        # None chosen: the site's, which is what they get.
        "timezone": subscriber.timezone or site.timezone,
        "send_hour": str(
            site.send_hour if preferences.send_hour is None else preferences.send_hour
        ),
    }
    if chosen is not None:  # a refused form shows what they sent, to correct it
        values = {
            "weekly": chosen.get("weekly") == "on",
            "companies": set(chosen.getlist("companies")),
            "topics": set(chosen.getlist("topics")),
            "format": chosen.get("format"),
            "timezone": chosen.get("timezone"),
            "send_hour": chosen.get("send_hour"),
        }
    token = request.path_params["token"]
    return private(
        page(
            request,
            "public/preferences.html.j2",
            status_code=status_code,
            subscriber=subscriber,
            values=values,
            problems=problems or {},
            companies=companies,
            topics=topics,
            zones=_ZONES,
            saved=request.query_params.get("saved") == "1",
            data_link=path_for(request, "ask_data", token=token),
            delete_link=path_for(request, "ask_delete", token=token),
            unsubscribe_link=signed_url(request, "unsubscribe", subscriber.id, "unsubscribe"),
        )
    )


def preferences_page(request: Request) -> Response:
    return _form(request, token_subscriber(request, "preferences"))


def save_preferences(request: Request, form: FormData) -> Response:
    subscriber = token_subscriber(request, "preferences")
    choice = read_preferences(form, followable(context_of(request)))
    if isinstance(choice, dict):
        return _form(request, subscriber, status_code=400, problems=choice, chosen=form)
    ctx = context_of(request)
    ctx.store.update_preferences(
        subscriber.id, choice.preferences, choice.timezone, ctx.clock(), by_subscriber=True
    )
    # Post/redirect/get: reloading the page does not send the form again.
    token = request.path_params["token"]
    return private(redirect_to(request, "preferences", token=token, query="saved=1"))


def _ask(request: Request, purpose: PrivateLink, *, sent: bool) -> Response:
    return private(page(request, "public/private_link.html.j2", purpose=purpose, sent=sent))


def ask_page(purpose: PrivateLink) -> Handler:
    """The page that offers to mail the private link (where the old links to the data went)."""

    def show(request: Request) -> Response:
        token_subscriber(request, "preferences")
        return _ask(request, purpose, sent=False)

    return show


def ask_link(purpose: PrivateLink) -> FormHandler:
    """Mail the private link to the subscriber's address: at most one per purpose in
    `notices.LINK_WINDOW`, and the same answer either way, which names nobody."""

    def send(request: Request, form: FormData) -> Response:
        plan_private_link(context_of(request), token_subscriber(request, "preferences"), purpose)
        return _ask(request, purpose, sent=True)

    return send


def _asked_again(request: Request, expired: Expired, purpose: PrivateLink) -> Response:
    again = signed_url(request, f"ask_{purpose}", expired.subscriber_id, "preferences")
    return expired_page(request, purpose, again)


def my_data(request: Request) -> Response:
    subscriber = timed_subscriber(request, "data")
    if isinstance(subscriber, Expired):
        return _asked_again(request, subscriber, "data")
    data = context_of(request).store.subscriber_data(subscriber.id)
    if data is None:
        raise HTTPException(404, FORGOTTEN)
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    response = Response(body + "\n", media_type="application/json; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="my-subscription-data.json"'
    return private(response)


def delete_page(request: Request) -> Response:
    subscriber = timed_subscriber(request, "delete")
    if isinstance(subscriber, Expired):
        return _asked_again(request, subscriber, "delete")
    return private(page(request, "public/delete.html.j2", subscriber=subscriber, done=False))


def delete_me(request: Request, form: FormData) -> Response:
    subscriber = timed_subscriber(request, "delete")  # the clock is read again at the click
    if isinstance(subscriber, Expired):
        return _asked_again(request, subscriber, "delete")
    ctx = context_of(request)
    ctx.store.forget_subscriber(ctx.clock(), subscriber_id=subscriber.id)
    return private(page(request, "public/delete.html.j2", subscriber=None, done=True))


routes = [
    Route(
        "/preferences/{token}",
        endpoint(preferences_page, save_preferences),
        methods=methods(preferences_page, save_preferences),
        name="preferences",
    ),
    *(
        Route(
            f"/preferences/{{token}}/{purpose}",
            endpoint(ask_page(purpose), ask_link(purpose)),
            methods=["GET", "HEAD", "POST"],
            name=f"ask_{purpose}",
        )
        for purpose in _PRIVATE_LINKS
    ),
    # The private links mailed by `ask_link` (paths of `links.timed_url`).
    Route("/my-data/{token}", endpoint(my_data), methods=methods(my_data, None), name="my_data"),
    Route(
        "/delete-me/{token}",
        endpoint(delete_page, delete_me),
        methods=methods(delete_page, delete_me),
        name="delete_me",
    ),
]
