"""Tracked links: `/r/{token}` redirects to the link's signed target, `/o/{token}.gif` is the
open pixel (engagement/tokens.py). Both are GETs that change nothing a reader could be tricked
into, so they need no origin check.

The work per hit is a token check (one HMAC), the one-request scanner rules and an append to the
recorder's buffer; the store is written by the recorder's background task, never here. The
redirect goes only to the target inside a genuine token, with a 302: a token that was changed is
refused, so no URL can make this site send anyone elsewhere.
"""

from __future__ import annotations

import base64
import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.engagement import HitRecorder, Link, LinkSigner, Reader
from digest.web.pages import context_of

# A transparent 1×1 GIF, the smallest image every mail client shows.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NOT_OURS = (
    "This link is not one of ours, or it was changed on the way here. Open the digest from the "
    "archive instead."
)
EXPIRED = "This link has expired. The digest it came from is in the archive."
# Every hit counts: no cache between the reader and us may answer for us.
_NO_STORE = {"Cache-Control": "no-store, max-age=0", "Referrer-Policy": "no-referrer"}


def signer_of(request: Request) -> LinkSigner:
    signer: LinkSigner = request.app.state.link_signer
    return signer


def recorder_of(request: Request) -> HitRecorder:
    recorder: HitRecorder = request.app.state.recorder
    return recorder


def _genuine(request: Request, kind: str) -> tuple[Link, Reader | None] | None:
    signer = signer_of(request)
    link = signer.read_link(request.path_params["token"])
    if link is None or link.kind != kind:
        return None
    reader_token = request.path_params.get("reader")
    if reader_token is None:
        return link, None
    reader = signer.read_reader(reader_token, link.digest_key)
    return (link, reader) if reader is not None else None


def _record(request: Request, link: Link, reader: Reader | None) -> None:
    recorder_of(request).record(
        link,
        reader,
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        address=request.client.host if request.client else "",
    )


async def redirect(request: Request) -> Response:
    found = _genuine(request, "click")
    # The target was checked when the token was made; checked again, it can never be anything
    # but an absolute http(s) URL in plain ASCII (no header can be bent with it).
    if found is None or not _is_safe_target(found[0].target):
        raise HTTPException(404, NOT_OURS)
    link, reader = found
    if link.expired(context_of(request).clock()):
        raise HTTPException(410, EXPIRED)
    _record(request, link, reader)
    return Response(status_code=302, headers={"Location": link.target, **_NO_STORE})


async def pixel(request: Request) -> Response:
    """Always the image (a broken one would show in the message); only genuine ones count."""
    found = _genuine(request, "open")
    if found is not None and not found[0].expired(context_of(request).clock()):
        _record(request, *found)
    return Response(PIXEL, media_type="image/gif", headers=_NO_STORE)


class UnloggedHits(logging.Filter):
    """Keeps tracked-link hits out of the server's access log: a send brings thousands a
    second, each line costs more than the hit itself, and a per-subscriber token names a
    reader. (uvicorn's access records carry the path as their fourth argument.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args[2] if isinstance(args, tuple) and len(args) > 2 else ""
        return not (isinstance(path, str) and path.startswith(("/r/", "/o/")))


def quiet_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, UnloggedHits) for existing in access.filters):
        access.addFilter(UnloggedHits())


def _is_safe_target(target: str) -> bool:
    return (
        target.isascii()
        and target.isprintable()
        and " " not in target
        and target.lower().startswith(("https://", "http://"))
        and len(target) > len("https://")
    )


routes = [
    Route("/r/{token}", redirect, name="tracked_link"),
    Route("/r/{token}/{reader}", redirect, name="tracked_reader_link"),
    Route("/o/{token}.gif", pixel, name="open_pixel"),
    Route("/o/{token}/{reader}.gif", pixel, name="open_reader_pixel"),
]
