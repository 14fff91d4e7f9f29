"""Marketing's desk for posts: each post as its platform shows it, at its slot; a planned post's
text edited (counted by the platform's own counting on every change and again on save, refused
when it does not fit), moved to a free slot, skipped, posted now; every change in the audit log
with who made it. The clock is the tests' own (Sunday 29 November 2026)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from test_web_editor import SUNDAY, WEEKLY, Client, client_for, csrf_of, log_in
from test_web_editor import clock as clock
from test_web_editor import context as context
from test_web_editor import overrides as overrides

from digest.compose import IsoWeek
from digest.context import Context
from digest.render.cards import POST, parse_card_path
from digest.render.social import SocialPost
from digest.schedule import jobs
from digest.schedule.deliverer import deliver_due
from digest.store import schema
from digest.store.accounts import Role, create_account
from digest.store.audit import entries_for
from digest.web.app import create_app
from digest.web.editor.post_text import check, edited, hashtags_in, shown_link

MARKETER = "Mia Marketing"
PASSWORD = "the marketer's own password"
POSTS = f"/editor/digest/{WEEKLY}/posts"
URL = "https://example.com/news/mistral-sweden"
CARD = f"cards/{WEEKLY}/1-{POST.name}.png"  # the top story's card, the weekly post's picture
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def desk(context: Context) -> Iterator[tuple[Context, Client]]:
    create_account(
        context.store.engine,
        name=MARKETER,
        email="mia@example.org",
        role=Role.MARKETING,
        password=PASSWORD,
        now=SUNDAY,
    )
    with client_for(create_app(context)) as client:
        assert log_in(client, PASSWORD, name=MARKETER).status_code == 303
        yield context, client


def plan_weekly(ctx: Context) -> None:
    jobs.plan_social(ctx, jobs.compose_weekly(ctx, IsoWeek.parse("2026-W48")))


def x_rows(ctx: Context) -> list[Any]:
    query = (
        select(schema.deliveries)
        .where(schema.deliveries.c.target == "x")
        .order_by(schema.deliveries.c.available_at, schema.deliveries.c.id)
    )
    with ctx.store.engine.connect() as connection:
        return list(connection.execute(query).mappings())


def change(client: Client, row_id: int, action: str, **form: str) -> str:
    page = client.get(POSTS).text
    data = {"csrf_token": csrf_of(page), "post": str(row_id), "action": action, **form}
    answer = client.post(f"{POSTS}/change", data=data)
    assert answer.status_code == 303 and answer.headers["location"] == f"{POSTS}#post-{row_id}"
    return client.get(POSTS).text


def counted(client: Client, row_id: int, text: str) -> dict[str, Any]:
    page = client.get(POSTS).text
    data = {"csrf_token": csrf_of(page), "post": str(row_id), "text": text}
    answer = client.post(f"{POSTS}/count", data=data)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    found: dict[str, Any] = answer.json()
    return found


# The text as the platform counts and shows it -----------------------------------------------


def test_a_link_is_shown_the_way_each_platform_shortens_it() -> None:
    assert shown_link(URL, "x") == "example.com/news/mistr…"  # 23 characters, as X's
    assert shown_link("https://www.example.com/a", "mastodon") == "example.com/a"
    assert shown_link(URL, "linkedin") == URL  # in full


def test_hashtags_are_read_from_the_text_never_from_inside_a_link() -> None:
    text = f"Mistral #MistralAI and #AI, #2026 is no tag, {URL}#frag #हिन्दी"
    assert hashtags_in(text) == ["MistralAI", "AI", "हिन्दी"]


def test_an_edited_post_keeps_the_composers_tags_first_and_is_counted_again() -> None:
    post = SocialPost("weekly:2026-W48", "item:a", "x", "old", URL, ("MistralAI",), 3, 280)
    text = f"#AI first, then {URL} #MistralAI #AI"
    again = edited(post, text + "\r\n")
    assert again.text == text and again.hashtags == ("MistralAI", "AI")
    assert again.length == len("#AI first, then ") + 23 + len(" #MistralAI #AI")


# The page ------------------------------------------------------------------------------------


def test_the_page_shows_each_post_as_its_platform_does_at_its_slot(
    desk: tuple[Context, Client],
) -> None:
    ctx, client = desk
    before = client.get(POSTS)
    assert before.status_code == 200, before.text[:3000]
    assert 'id="not-planned"' in before.text and "<textarea" not in before.text
    plan_weekly(ctx)
    page = client.get(POSTS).text
    first = x_rows(ctx)[0]
    assert f'id="post-{first["id"]}"' in page
    # Sunday evening: the x channel's first slot is Monday 08:00 in Paris.
    assert '<time datetime="2026-11-30T08:00:00+01:00">Mon 30 Nov 08:00 CET</time>' in page
    assert 'class="platform-preview platform-x"' in page
    assert f">{first['payload']['length']} / 280<" in page
    assert 'class="tag">#MistralAI<' in page  # hashtags shown as the platform links them
    assert f">{shown_link(first['payload']['url'], 'x')}</a>" in page  # X's shortened link
    with ctx.store.engine.connect() as connection:
        planned = connection.scalar(select(func.count()).select_from(schema.deliveries))
    assert page.count("<textarea") == planned  # every planned post may be edited


def test_the_count_is_the_platforms_own_and_an_over_long_post_cannot_be_saved(
    desk: tuple[Context, Client],
) -> None:
    ctx, client = desk
    plan_weekly(ctx)
    row = x_rows(ctx)[0]
    post_url = row["payload"]["url"]
    short = counted(client, row["id"], f"Mistral goes north 🇸🇪 {post_url} #MistralAI")
    # X: a URL counts 23 and a flag 2, whatever their length.
    assert short == {
        "length": len("Mistral goes north ") + 2 + 1 + 23 + len(" #MistralAI"),
        "limit": 280,
        "fits": True,
        "problems": [],
        "pieces": [
            {"kind": "text", "text": "Mistral goes north 🇸🇪 ", "href": ""},
            {"kind": "link", "text": shown_link(post_url, "x"), "href": post_url},
            {"kind": "text", "text": " ", "href": ""},
            {"kind": "tag", "text": "#MistralAI", "href": ""},
        ],
    }
    long_text = "word " * 60 + post_url
    refused = counted(client, row["id"], long_text)
    assert refused["fits"] is False and refused["length"] == 300 + 23
    assert refused["problems"] == ["43 over the limit of 280"]
    assert counted(client, row["id"], "no link here")["problems"] == [
        f"keep the link {post_url}: the post is about it"
    ]

    page = change(client, row["id"], "text", text=long_text)
    assert "Not saved: 43 over the limit of 280." in page
    assert x_rows(ctx)[0]["payload"]["text"] == row["payload"]["text"]  # unchanged
    assert entries_for(ctx.store.engine, WEEKLY) == []


def test_marketing_edits_moves_skips_and_posts_now_each_change_in_the_log(
    desk: tuple[Context, Client], tmp_path: Path
) -> None:
    ctx, client = desk
    plan_weekly(ctx)
    first, second, third = x_rows(ctx)[:3]
    text = (
        f"🇸🇪 Mistral builds in Sweden: 1.2 bn euros. {first['payload']['url']} #MistralAI #Sweden"
    )
    page = change(client, first["id"], "text", text=text)
    assert "Saved the x post (" in page
    saved = x_rows(ctx)[0]["payload"]
    assert saved["text"] == text and saved["hashtags"] == ["MistralAI", "Sweden"]
    assert saved["length"] == check(edited(SocialPost.from_dict(first["payload"]), text)).length

    # Move the second post to a free slot: the first offered is after the week's posts.
    page = client.get(POSTS).text
    offered = page.split(f'id="slot-{second["id"]}"')[1].split('value="')[1].split('"')[0]
    page = change(client, second["id"], "move", slot=offered)
    assert "Moved the x post to" in page
    moved = next(row for row in x_rows(ctx) if row["id"] == second["id"])
    assert moved["available_at"] == datetime.fromisoformat(offered)
    taken = first["available_at"].isoformat()  # the first post's slot
    assert "Not moved: that slot is taken or past" in change(
        client, third["id"], "move", slot=taken
    )

    assert "Skipped the x post" in change(client, third["id"], "skip")
    assert "The x post is due now" in change(client, first["id"], "post-now")

    log = entries_for(ctx.store.engine, WEEKLY)
    assert [entry.action for entry in reversed(log)] == [
        "post.text",
        "post.move",
        "post.skip",
        "post.post-now",
    ]
    assert {entry.actor for entry in log} == {f"editor:{MARKETER}"}
    edit_entry = log[-1]
    assert edit_entry.before is not None and edit_entry.after is not None
    assert (
        edit_entry.before["text"] == first["payload"]["text"] and edit_entry.after["text"] == text
    )

    # The worker posts it now, with the edited text; the skipped one never goes.
    report = deliver_due(ctx)
    assert report.states == {"sent": 2}  # and Bluesky's first post: its slot is 19:00, now
    (line,) = [json.loads(line) for line in (tmp_path / "outbox" / "social" / "x.jsonl").open()]
    assert line["text"] == text
    assert next(row for row in x_rows(ctx) if row["id"] == third["id"])["state"] == "skipped"
    # Once posted, a post no longer changes.
    assert "Not changed: a worker has taken this post" in change(
        client, first["id"], "text", text=text + " again"
    )


# Share cards -------------------------------------------------------------------------------


def test_each_post_shows_its_share_card_with_its_alt_text_from_the_desks_own_route(
    desk: tuple[Context, Client],
) -> None:
    ctx, client = desk
    composed = client.get(POSTS).text  # not planned: the cards of the posts composed now
    assert f'<img class="card-image" src="/editor/{CARD}"' in composed
    plan_weekly(ctx)
    page = client.get(POSTS).text
    pictured = [row["payload"] for row in x_rows(ctx) if row["payload"]["image"]]
    assert pictured
    for post in pictured:
        address = parse_card_path(post["image"])
        assert address is not None
        stored = ctx.store.share_card(WEEKLY, address.position, POST.name)
        assert stored is not None  # planning stored it
        # The alt text escaped as Jinja escapes it.
        shown = f'src="/editor/{post["image"]}" alt="{escape(stored.alt)}"'
        assert shown in page
        assert client.get(f"/editor/{post['image']}").content == stored.png  # the same picture


def test_a_drafts_card_is_served_to_the_desks_users_only_and_never_publicly(
    desk: tuple[Context, Client],
) -> None:
    ctx, client = desk
    ctx.store.save_digest(jobs.compose_weekly(ctx, IsoWeek.parse("2026-W48")))  # a draft
    approval = ctx.store.digest_approval(WEEKLY)
    assert approval is None or approval.planned_at is None  # released to nobody
    answer = client.get(f"/editor/{CARD}")
    assert answer.status_code == 200 and answer.content.startswith(PNG)
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "private, no-store"  # no shared cache keeps it
    assert ctx.store.share_card(WEEKLY, 1, POST.name) is not None  # drawn once, kept with it
    assert client.get(f"/editor/cards/{WEEKLY}/99-{POST.name}.png").status_code == 404
    with client_for(create_app(ctx)) as stranger:
        refused = stranger.get(f"/editor/{CARD}")
        assert refused.status_code == 303 and not refused.content.startswith(PNG)
        assert refused.headers["location"].startswith("/editor/login?next=")
        assert stranger.get(f"/{CARD}").status_code == 404  # the public route: published only


def test_a_card_of_a_digest_composed_now_is_drawn_for_the_desk_but_not_stored(
    desk: tuple[Context, Client],
) -> None:
    ctx, client = desk
    answer = client.get(f"/editor/{CARD}")  # nothing stored: the digest is composed now
    assert answer.status_code == 200 and answer.content.startswith(PNG)
    assert ctx.store.load_digest(WEEKLY) is None
    assert ctx.store.share_card(WEEKLY, 1, POST.name) is None
