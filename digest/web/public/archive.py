"""The archive: every published digest as a "view in browser" page with no personal data, its
feeds (Atom, JSON Feed), and on each page the tags that make a shared link preview well."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.render.email import EmailRenderer
from digest.web.pages import context_of, page, url_maker
from digest.web.public.sharing import Shared, atom_feed, json_feed, published, with_page_parts

# The digest is its email's web version: styled inline, as email must be, and without scripts.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
FEED_CACHE = "public, max-age=300"


def archive_index(request: Request) -> Response:
    return page(request, "archive/index.html.j2", digests=published(context_of(request)))


def archive_digest(request: Request) -> Response:
    ctx = context_of(request)
    key = request.path_params["key"]
    approval = ctx.store.digest_approval(key)
    digest = ctx.store.load_digest(key) if approval is not None and approval.planned_at else None
    if digest is None:
        raise HTTPException(404, "No digest has that address; the archive lists them all.")
    html = EmailRenderer(ctx.env, ctx.settings.site).preview_html(digest)
    values = {"site": ctx.settings.site, "url_for": url_maker(request)}
    head = ctx.env.get_template("web/archive/_share.html.j2").render(
        shared=Shared.of(ctx, digest), **values
    )
    top = ctx.env.get_template("web/archive/_top.html.j2").render(**values)
    return HTMLResponse(
        with_page_parts(html, head, top), headers={"Content-Security-Policy": ARCHIVE_CSP}
    )


def archive_atom(request: Request) -> Response:
    body = atom_feed(context_of(request))
    return Response(body, media_type="application/atom+xml", headers={"Cache-Control": FEED_CACHE})


def archive_json(request: Request) -> Response:
    body = json_feed(context_of(request))
    return Response(body, media_type="application/feed+json", headers={"Cache-Control": FEED_CACHE})


routes = [
    Route("/archive", archive_index, name="archive"),
    Route("/archive/feed.atom", archive_atom, name="archive_atom"),  # before {key}: it matches
    Route("/archive/feed.json", archive_json, name="archive_json"),
    Route("/archive/{key:str}", archive_digest, name="archive_digest"),
]
