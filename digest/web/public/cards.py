"""`/cards/<digest key>/<n>-<W>x<H>.png`: the share cards of published digests.

What link previews (og:image), Threads (which fetches a post's picture by URL) and Slack and
Discord embeds load. A card is read from the store, or drawn and stored on its first request
(an archive page's 1200×630 card is drawn only when a preview asks for it). A card never
changes once stored, so it may be cached for a year; a digest not published yet has none, as
it has no archive page (its editors see its cards at /editor/cards/).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.web.cards import card_address, card_response
from digest.web.pages import context_of

CARD_CACHE = "public, max-age=31536000, immutable"
NOT_FOUND = "No card has that address; a published digest's page names its own."


def card(request: Request) -> Response:
    ctx = context_of(request)
    address = card_address(request, NOT_FOUND)
    approval = ctx.store.digest_approval(address.digest_key)
    digest = (
        ctx.store.load_digest(address.digest_key)
        if approval is not None and approval.planned_at
        else None
    )
    return card_response(request, digest, address, cache=CARD_CACHE, missing=NOT_FOUND)


routes = [Route("/cards/{key:str}/{name:str}", card, name="card")]
