"""Share cards with the digest: planning a digest's posts draws each card once and stores it,
every post names its card, and a worker reads the stored bytes, drawing a card the store lost."""

from __future__ import annotations

import io

from api_support import ApiWorld
from PIL import Image
from sqlalchemy import delete, select

from digest.render.cards import POST, parse_card_path
from digest.render.social import SocialPost
from digest.schedule import jobs
from digest.schedule.cards import card_lookup, store_post_cards
from digest.store import schema


def planned_posts(world: ApiWorld) -> list[SocialPost]:
    with world.ctx.store.engine.connect() as connection:
        payloads = connection.scalars(select(schema.deliveries.c.payload)).all()
    return [SocialPost.from_dict(payload) for payload in payloads]


def test_planning_posts_stores_each_card_once_and_names_it_in_the_posts(world: ApiWorld) -> None:
    week = jobs.latest_week(world.ctx)
    assert week is not None
    digest = jobs.compose_weekly(world.ctx, week)
    jobs.plan_social(world.ctx, digest)
    posts = planned_posts(world)
    stored = world.ctx.store.share_card_positions(digest.key, POST.name)
    assert stored == set(range(1, len(digest.entries) + 1))
    for post in posts:
        assert post.image is not None
        address = parse_card_path(post.image)
        assert address is not None and address.digest_key == digest.key
        entry = digest.entries[address.position - 1]
        if post.key.startswith("item:"):
            assert post.key == f"item:{entry.item.id}"
        elif post.reply_to:  # a thread's later part: the card of the story it links first
            assert post.url.split("?")[0] in (entry.item.url, entry.item.page_url)
        assert post.image_url == entry.item.image_url
    # Planned again (a second run): nothing to draw.
    assert store_post_cards(world.ctx, digest, posts) == 0


def test_a_worker_reads_the_stored_card_and_draws_one_the_store_lost(world: ApiWorld) -> None:
    week = jobs.latest_week(world.ctx)
    assert week is not None
    digest = jobs.compose_weekly(world.ctx, week)
    jobs.plan_social(world.ctx, digest)
    look_up = card_lookup(world.ctx)
    path = f"cards/{digest.key}/2-1200x675.png"
    found = look_up(path)
    stored = world.ctx.store.share_card(digest.key, 2, POST.name)
    assert found is not None and stored is not None
    assert found == (stored.png, stored.alt)
    assert digest.entries[1].item.title in stored.alt
    with world.ctx.store.write() as connection:
        connection.execute(delete(schema.share_cards))
    again = look_up(path)
    assert again is not None and again[0] == stored.png  # drawn again: the same bytes
    with Image.open(io.BytesIO(again[0])) as card:
        assert card.size == (1200, 675)
    assert look_up(f"cards/{digest.key}/99-1200x675.png") is None
    assert look_up("cards/weekly:1999-W01/1-1200x675.png") is None
    assert look_up("elsewhere.png") is None
