"""The archive: every planned digest as a "view in browser" page with no personal data."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.render.email import EmailRenderer
from digest.web.pages import context_of, page


def archive_index(request: Request) -> Response:
    ctx = context_of(request)
    # Only digests released to their recipients: a stored one may be held, or waiting.
    summaries = [summary for summary in ctx.store.digest_summaries() if summary.planned_at]
    return page(request, "archive/index.html.j2", digests=summaries)


def archive_digest(request: Request) -> Response:
    ctx = context_of(request)
    key = request.path_params["key"]
    approval = ctx.store.digest_approval(key)
    digest = ctx.store.load_digest(key) if approval is not None and approval.planned_at else None
    if digest is None:
        raise HTTPException(404, "No digest has that address; the archive lists them all.")
    return HTMLResponse(EmailRenderer(ctx.env, ctx.settings.site).preview_html(digest))


routes = [
    Route("/archive", archive_index, name="archive"),
    Route("/archive/{key:str}", archive_digest, name="archive_digest"),
]
