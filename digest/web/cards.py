"""A share card's bytes as an HTTP response, for both audiences: the public route serves the
cards of published digests (cached for good, as a card never changes once stored), the editor's
route the cards of any digest, drafts too (private: kept by no cache)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from digest.models import Digest
from digest.render.cards import CardAddress, parse_card_path
from digest.schedule.cards import share_card
from digest.web.pages import context_of


def card_address(request: Request, missing: str) -> CardAddress:
    """The card `…/cards/{key}/{name}` names (a 404 saying `missing` for another path)."""
    address = parse_card_path(f"cards/{request.path_params['key']}/{request.path_params['name']}")
    if address is None:
        raise HTTPException(404, missing)
    return address


def card_response(
    request: Request,
    digest: Digest | None,
    address: CardAddress,
    *,
    keep: bool = True,
    cache: str,
    missing: str,
) -> Response:
    """The digest's card at `address` as a PNG, drawn (and stored when `keep`) on its first
    request; a 404 saying `missing` when there is no digest or no such card."""
    ctx = context_of(request)
    stored = share_card(ctx, digest, address.position, address.size, keep=keep) if digest else None
    if stored is None:
        raise HTTPException(404, missing)
    return Response(stored.png, media_type="image/png", headers={"Cache-Control": cache})
