"""One-click unsubscribe (RFC 8058).

POST with `List-Unsubscribe=One-Click` (what mail providers send, and what the page's button
sends): unsubscribed at once, answered 200, never a redirect. GET shows the page with that button
and changes nothing: link scanners and previews fetch every link in a message.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.web.pages import context_of, page
from digest.web.public.forms import endpoint, methods, private, signed_url, token_subscriber_id

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def unsubscribe_page(request: Request) -> Response:
    subscriber_id = token_subscriber_id(request, "unsubscribe")
    subscriber = context_of(request).store.subscriber(subscriber_id)
    return _page(request, subscriber_id, subscriber, done=False)


def unsubscribe(request: Request, form: FormData) -> Response:
    subscriber_id = token_subscriber_id(request, "unsubscribe")
    if form.get(ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
        response = page(
            request,
            "error.html.j2",
            status_code=400,
            message=f"An unsubscribe request carries {ONE_CLICK_FIELD}={ONE_CLICK_VALUE}; "
            "use the button on this page.",
        )
        return private(response)
    ctx = context_of(request)
    # Committed before the answer: once the POST has returned, no message goes to them.
    subscriber = ctx.store.unsubscribe(subscriber_id, ctx.clock())
    return _page(request, subscriber_id, subscriber, done=True)


def _page(request: Request, subscriber_id: str, subscriber: object, *, done: bool) -> Response:
    preferences = (
        signed_url(request, "preferences", subscriber_id, "preferences") if subscriber else None
    )
    return private(
        page(
            request,
            "public/unsubscribe.html.j2",
            subscriber=subscriber,
            done=done,
            field=ONE_CLICK_FIELD,
            value=ONE_CLICK_VALUE,
            preferences_link=preferences,
        )
    )


routes = [
    Route(
        "/unsubscribe/{token}",
        endpoint(unsubscribe_page, unsubscribe),
        methods=methods(unsubscribe_page, unsubscribe),
        name="unsubscribe",
    ),
]
