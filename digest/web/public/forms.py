"""What the public pages share: form endpoints that run the synchronous store in a thread,
signed-link lookups, anti-forgery for the one form without a link token, and private headers.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from digest.links import Expired, Lasting, Timed, make_token, read_timed_token, read_token
from digest.models import Subscriber
from digest.web.pages import context_of, page, path_for

Handler = Callable[[Request], Response]
FormHandler = Callable[[Request, FormData], Response]

# A public form has a few dozen fields at most; anything bigger is not ours.
MAX_FIELDS = 400
MAX_PART_SIZE = 16 * 1024

# Pages reached through a signed link: never cached, never indexed, and the link (which
# authorises whoever holds it) never sent on to another site in a Referer header.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}

INVALID_LINK = (
    "This link is not valid: it may have been cut short when it was copied. "
    "Open it again from the newest email we sent you."
)


FORGOTTEN = "We hold nothing about you any more: your data was deleted."


def private(response: Response) -> Response:
    response.headers.update(PRIVATE_HEADERS)
    return response


def endpoint(
    get: Handler | None = None, post: FormHandler | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """One ASGI endpoint for a page: GET runs `get`, POST reads the form and runs `post`; both
    in Starlette's thread pool, since the store is synchronous."""

    async def handle(request: Request) -> Response:
        if request.method in ("GET", "HEAD") and get is not None:
            return await run_in_threadpool(get, request)
        if request.method == "POST" and post is not None:
            async with request.form(max_files=0, max_fields=MAX_FIELDS,
                                    max_part_size=MAX_PART_SIZE) as form:  # fmt: skip
                return await run_in_threadpool(post, request, form)
        raise HTTPException(405, "This page does not take that kind of request.")

    return handle


def methods(get: Handler | None, post: FormHandler | None) -> list[str]:
    return [*(["GET", "HEAD"] if get else []), *(["POST"] if post else [])]


def form_text(form: FormData, name: str) -> str:
    """A field's text, trimmed; empty when missing or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_texts(form: FormData, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes), trimmed."""
    return [value.strip() for value in form.getlist(name) if isinstance(value, str)]


def token_subscriber_id(request: Request, purpose: Lasting) -> str:
    """The subscriber id the URL's token was signed for, with this purpose; else a 404."""
    secret = context_of(request).settings.site.secret_key.reveal()
    subscriber_id = read_token(secret, request.path_params["token"], purpose)
    if subscriber_id is None:
        raise HTTPException(404, INVALID_LINK)
    return subscriber_id


def _existing(request: Request, subscriber_id: str) -> Subscriber:
    subscriber = context_of(request).store.subscriber(subscriber_id)
    if subscriber is None:
        raise HTTPException(404, FORGOTTEN)
    return subscriber


def token_subscriber(request: Request, purpose: Lasting) -> Subscriber:
    return _existing(request, token_subscriber_id(request, purpose))


def timed_subscriber(request: Request, purpose: Timed) -> Subscriber | Expired:
    """The subscriber of the URL's timed token while it is within its lifetime (by the app's
    clock); `Expired` once it is past it; else a 404."""
    ctx = context_of(request)
    secret = ctx.settings.site.secret_key.reveal()
    reading = read_timed_token(secret, request.path_params["token"], purpose, ctx.clock())
    if reading is None:
        raise HTTPException(404, INVALID_LINK)
    return reading if isinstance(reading, Expired) else _existing(request, reading)


def expired_page(request: Request, purpose: Timed, again_link: str) -> Response:
    """What a timed link shows once past its lifetime: say so, and a button to a new one."""
    return private(
        page(request, "public/expired.html.j2", status_code=410, purpose=purpose,
             again_link=again_link)
    )  # fmt: skip


def signed_url(request: Request, route: str, subscriber_id: str, purpose: Lasting) -> str:
    """The path of one of this app's pages, signed for the subscriber."""
    secret = context_of(request).settings.site.secret_key.reveal()
    return path_for(request, route, token=make_token(secret, subscriber_id, purpose))


# Anti-forgery for the subscribe form (the only public form without a signed link): a random
# value in a cookie that must come back in the form (double submit). Another site can make a
# browser post the form, but can neither read nor set the cookie, and SameSite keeps the
# cookie off cross-site posts anyway.
CSRF_COOKIE = "digest_csrf"
CSRF_FIELD = "csrf"
_CSRF_VALUE = re.compile(r"[A-Za-z0-9_-]{32,64}")


def csrf_value(request: Request) -> str:
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if _CSRF_VALUE.fullmatch(value) else secrets.token_urlsafe(32)


def set_csrf_cookie(request: Request, response: Response, value: str) -> Response:
    response.set_cookie(
        CSRF_COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def csrf_ok(request: Request, form: FormData) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not _CSRF_VALUE.fullmatch(cookie):
        return False
    return hmac.compare_digest(cookie.encode(), sent.encode("utf-8", "replace"))
