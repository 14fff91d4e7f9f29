"""The Starlette application: one factory mounting the routers of each audience side by side
(public pages, provider webhooks, the editor's desk)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from digest.context import Context
from digest.web import editor, hooks, public
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
            editor.mount(ctx),  # /editor: its own session cookie, behind a login
            Mount("/webhooks", app=hooks.router),  # bounces and complaints from providers
            Mount("", app=public.router),  # last: it answers every other path
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.ctx = ctx
    return app
