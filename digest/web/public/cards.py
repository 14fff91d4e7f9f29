"""`/cards/<digest key>/<n>-<W>x<H>.png`: the share cards of published digests.

What link previews (og:image), Threads (which fetches a post's picture by URL) and Slack and
Discord embeds load. A card is read from the store, or drawn and stored on its first request
(an archive page's 1200×630 card is drawn only when a preview asks for it). A card never
changes once stored, so it may be cached for a year; a digest not published yet has none, as
it has no archive page.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.render.cards import parse_card_path
from digest.schedule.cards import share_card
from digest.web.pages import context_of

CARD_CACHE = "public, max-age=31536000, immutable"
NOT_FOUND = "No card has that address; a published digest's page names its own."


def card(request: Request) -> Response:
    ctx = context_of(request)
    address = parse_card_path(f"cards/{request.path_params['key']}/{request.path_params['name']}")
    if address is None:
        raise HTTPException(404, NOT_FOUND)
    approval = ctx.store.digest_approval(address.digest_key)
    digest = (
        ctx.store.load_digest(address.digest_key)
        if approval is not None and approval.planned_at
        else None
    )
    stored = share_card(ctx, digest, address.position, address.size) if digest else None
    if stored is None:
        raise HTTPException(404, NOT_FOUND)
    return Response(stored.png, media_type="image/png", headers={"Cache-Control": CARD_CACHE})


routes = [Route("/cards/{key:str}/{name:str}", card, name="card")]
