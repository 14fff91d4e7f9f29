"""Rendering pages from templates/web/ with the one Jinja2 environment (autoescape on), and the
paths and redirects every page builds."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from digest.context import Context


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    """The client's address, the key of per-client limits: X-Forwarded-For is applied before
    this (app.py) only when it comes from one of `web.trusted_proxies`, so a client cannot
    choose its own key."""
    return request.client.host if request.client else "unknown"


def path_for(request: Request, name: str, /, **params: Any) -> str:
    """The path of a named route: links and redirects never repeat the request's Host header,
    which whoever sends the request chooses. Names are the whole app's, from inside a mounted
    app (the API's) too: the outermost router knows them all."""
    routes = request.scope.get("router") or request.app
    return str(routes.url_path_for(name, **params))


def url_maker(request: Request) -> Any:
    """`url_for` for templates: paths, as `path_for` makes them."""
    return lambda name, /, **params: path_for(request, name, **params)


def redirect_to(
    request: Request, name: str, /, *, query: str = "", status_code: int = 303, **params: Any
) -> RedirectResponse:
    target = path_for(request, name, **params)
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=status_code)


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = context_of(request)
    html = ctx.env.get_template(f"web/{template}").render(
        site=ctx.settings.site, request=request, url_for=url_maker(request), **values
    )
    return HTMLResponse(html, status_code=status_code)
