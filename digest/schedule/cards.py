"""Share cards wired to the store: each post names its card, and a card is drawn once, when a
digest's posts are planned (or when first asked for), then read from the store by the workers
that upload it and the web app that serves it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from digest.context import Context
from digest.models import Digest
from digest.render.cards import (
    POST,
    CardLookup,
    CardSize,
    card_alt,
    card_path,
    card_position,
    parse_card_path,
    render_card,
)
from digest.render.social import SocialPost
from digest.store.cards import StoredCard


def with_pictures(digest: Digest, posts: Iterable[SocialPost]) -> list[SocialPost]:
    """The posts, each naming its entry's card and the item's own image."""
    pictured = []
    for post in posts:
        position = card_position(digest, post)
        if position is None:
            pictured.append(post)
            continue
        item = digest.entries[position - 1].item
        pictured.append(
            dataclasses.replace(
                post, image=card_path(digest.key, position), image_url=item.image_url
            )
        )
    return pictured


def share_card(
    ctx: Context, digest: Digest, position: int, size: CardSize, *, keep: bool = True
) -> StoredCard | None:
    """The stored card of the digest's `position`-th entry, drawn and stored first if it is
    not there yet; None for a position the digest does not have. The digest must be stored,
    unless `keep` is False (a digest composed now, on the editor's desk): then a card drawn
    is not stored, as there is no digest to keep it with."""
    stored = ctx.store.share_card(digest.key, position, size.name)
    if stored is not None:
        return stored
    if not 1 <= position <= len(digest.entries):
        return None
    entry = digest.entries[position - 1]
    png = render_card(entry, site_name=ctx.settings.site.name, size=size)
    card = StoredCard(png, card_alt(entry))
    if keep:
        ctx.store.save_share_card(digest.key, position, size.name, card, now=ctx.clock())
    return card


def store_post_cards(ctx: Context, digest: Digest, posts: Sequence[SocialPost]) -> int:
    """Draw and store the cards the posts name that are not stored yet; how many were drawn."""
    have = ctx.store.share_card_positions(digest.key, POST.name)
    wanted = {
        address.position
        for post in posts
        if post.image and (address := parse_card_path(post.image)) is not None
    }
    missing = sorted(wanted - have)
    for position in missing:
        share_card(ctx, digest, position, POST)
    return len(missing)


def card_lookup(ctx: Context) -> CardLookup:
    """What a social adapter is given to read a post's card from the store."""

    def look_up(path: str) -> tuple[bytes, str] | None:
        address = parse_card_path(path)
        if address is None:
            return None
        stored = ctx.store.share_card(address.digest_key, address.position, address.size.name)
        if stored is None:
            digest = ctx.store.load_digest(address.digest_key)
            if digest is None:
                return None
            stored = share_card(ctx, digest, address.position, address.size)
        return (stored.png, stored.alt) if stored is not None else None

    return look_up
