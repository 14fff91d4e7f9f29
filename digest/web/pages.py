"""Rendering pages from templates/web/ with the one Jinja2 environment (autoescape on)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.context import Context


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = context_of(request)
    html = ctx.env.get_template(f"web/{template}").render(
        site=ctx.settings.site, request=request, url_for=request.url_for, **values
    )
    return HTMLResponse(html, status_code=status_code)
