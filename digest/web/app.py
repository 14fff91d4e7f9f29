"""The Starlette application: one factory mounting the routers of each audience side by side
(public pages, provider webhooks, the editor's desk, the JSON API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from digest.context import Context
from digest.engagement import HitRecorder, LinkSigner
from digest.web import api, editor, hooks, public
from digest.web.pages import page, redirect_to
from digest.web.public import redirects
from digest.web.security import SecurityMiddleware

STATIC = Path(__file__).with_name("static")


def home(request: Request) -> Response:
    return redirect_to(request, "archive")


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return page(request, "error.html.j2", status_code=exc.status_code, message=exc.detail)


def shared_middleware(ctx: Context) -> list[Middleware]:
    """Around every route, outermost first: the client's real scheme and address are known
    before anything else looks at them."""
    return [
        Middleware(ProxyHeadersMiddleware, trusted_hosts=list(ctx.settings.web.trusted_proxies)),
        Middleware(SecurityMiddleware, base_url=ctx.settings.site.base_url),
    ]


def create_app(ctx: Context, *, recorder: HitRecorder | None = None) -> Starlette:
    """The app; `recorder` takes clicks and opens on tracked links (by default, a buffer
    written to the store by a background task while the app runs)."""
    hits = recorder or HitRecorder(
        ctx.store.engine, ctx.settings.site, ctx.settings.tracking, lambda: ctx.clock()
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        redirects.quiet_access_log()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(hits.run)
            yield
            tasks.cancel_scope.cancel()  # run() writes what is left as it ends

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", home),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
            editor.mount,  # /editor: the desk, behind a login
            Mount("/webhooks", app=hooks.router),  # bounces and complaints from providers
            api.mount(ctx),  # /api/v1: JSON, token-scoped
            Mount("", app=public.router),  # last: it answers every other path
        ],
        exception_handlers={HTTPException: http_error},
        middleware=shared_middleware(ctx),
    )
    app.state.ctx = ctx
    app.state.recorder = hits
    app.state.link_signer = LinkSigner.for_site(ctx.settings.site)
    return app


def server_config(app: Starlette, *, host: str, port: int, **options: object) -> Config:
    """How uvicorn serves the app, for `digest serve` and the tests' live servers alike."""
    return Config(
        app,
        host=host,
        port=port,
        server_header=False,  # no "Server: uvicorn" telling attackers what runs here
        proxy_headers=False,  # the app applies web.trusted_proxies itself (create_app)
        **options,  # type: ignore[arg-type]
    )
