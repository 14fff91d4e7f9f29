"""The Starlette application: one factory, route modules mounted side by side."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.context import Context
from digest.web import archive, editor, preferences, subscribe, unsubscribe, webhooks
from digest.web.pages import page


def home(request: Request) -> Response:
    return RedirectResponse(request.url_for("archive"), status_code=303)


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return page(request, "error.html.j2", status_code=exc.status_code, message=exc.detail)


def create_app(ctx: Context) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", home),
            *archive.routes,
            *subscribe.routes,
            *preferences.routes,
            *unsubscribe.routes,
            *webhooks.routes,  # /webhooks/…: bounces and complaints from email providers
            editor.mount(ctx),  # /editor: its own session cookie, behind a login
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.ctx = ctx
    return app
