"""Defences every page shares, applied once as ASGI middleware around the whole app.

- Security headers on every answer: a Content-Security-Policy with no inline script or style
  (scripts and styles are files under /static/), `frame-ancestors 'none'` (an answer that sets
  its own policy, like the editor's sandboxed email preview, keeps it), `nosniff`,
  `Referrer-Policy: same-origin` unless the page chose a stricter one, no `Server` header.
- Same-origin writes: a browser's POST (PUT, PATCH, DELETE) must come from this site, by its
  `Sec-Fetch-Site` or else its `Origin`; requests without either (non-browser clients) are let
  through, since only a browser carries someone's cookies to a forged form. Paths that take
  cross-site posts by design are listed in CROSS_SITE_PATHS, each with why.

Proxies: `X-Forwarded-Proto`/`-For` are honoured only from `web.trusted_proxies` (uvicorn's
ProxyHeadersMiddleware), so `request.url.scheme` says https only when the proxy said so.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# Cross-site POSTs that are meant to happen, and why each is safe without an origin check:
CROSS_SITE_PATHS: tuple[str, ...] = (
    "/webhooks/",  # email providers' servers, each call proven by the provider's signature
    "/unsubscribe/",  # RFC 8058 one-click: mail providers POST it; the signed link authorises
    "/api/v1/",  # other systems' servers; each call carries its API token in a header, never a
    # cookie, so a forged cross-site request has nothing to borrow
    "/subscribe/embed",  # the sign-up form other sites embed: it reads no cookie, and a sign-up
    # only plans the confirmation message (throttled per client and per address); becoming a
    # subscriber takes the POST on the page its link opens, which stays same-origin
)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})  # "none": typed or bookmarked by the user

FORBIDDEN = (
    "This form was sent from another site, so it was refused. Open the page on this site and "
    "send the form from there."
)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        self.app = app
        self.site_origin = origin_of(base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.same_site(scope):
            response = PlainTextResponse(FORBIDDEN, status_code=403)
            await response(scope, receive, self.with_headers(send))
            return
        await self.app(scope, receive, self.with_headers(send))

    def same_site(self, scope: Scope) -> bool:
        if scope["method"] not in UNSAFE_METHODS:
            return True
        path: str = scope["path"]
        if any(path.startswith(prefix) for prefix in CROSS_SITE_PATHS):
            return True
        headers = Headers(scope=scope)
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site in SAME_SITE_FETCHES
        origin = headers.get("origin")
        if origin is None:
            return True
        return origin.lower() in self.own_origins(scope, headers)

    def own_origins(self, scope: Scope, headers: Headers) -> Iterable[str]:
        """The site's configured origin, and the one this request was addressed to (a forged
        form in someone's browser cannot change the Host its request carries)."""
        host = headers.get("host")
        addressed = f"{scope.get('scheme', 'http')}://{host}".lower() if host else None
        return {self.site_origin, addressed} - {None}

    @staticmethod
    def with_headers(send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = PAGE_CSP
                    headers["X-Frame-Options"] = "DENY"
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                del headers["server"]
            await send(message)

        return sending
