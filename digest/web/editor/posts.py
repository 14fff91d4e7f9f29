"""Marketing's desk for a digest's posts: each post as its platform shows it (its card, its text
with links shortened and hashtags as links, its count against the limit), and for a planned
post: edit its text, move it to another free slot of its channel, skip it, or post it now.

The count is live: the page's script sends the text as it is typed to `count`, which checks it
with the very code that saves it (post_text.py), so what the counter says is what a save does;
a text that does not pass is never saved. Nothing here posts: "post now" makes the row due at
once, for `digest worker`. Every change goes into the audit log with who made it.

Each post shows its share card, served to the desk's own users by `card` (under /editor/, so
a draft's cards, which the public /cards/ route refuses, are seen before the digest is out).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from digest.context import Context
from digest.models import Delivery, DeliveryState, Digest
from digest.outbox import post_edits, slots
from digest.render.cards import card_alt, parse_card_path
from digest.render.social import SocialPost
from digest.schedule import jobs
from digest.store import audit
from digest.web.cards import card_address, card_response
from digest.web.editor import auth, post_text, previews
from digest.web.editor.desk import back_to, checked_form, found_or_404, session_of
from digest.web.editor.pages import render
from digest.web.editor.roles import Permission
from digest.web.pages import context_of

log = logging.getLogger("digest")

FREE_SLOTS = 12  # the free slots a post may be moved to
PAGE = "editor:posts"
# A draft's card is for the editors who asked: no shared cache keeps it, nor the browser.
CARD_CACHE = "private, no-store"
NO_CARD = "No card has that address; the digest's posts page names its own."


@dataclass(frozen=True, slots=True)
class CardView:
    path: str  # the card's path on the site (render/cards.py), served under /editor/ here
    alt: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class PostRow:
    id: int | None  # its outbox row; None: not planned yet
    channel: str
    state: str
    at: datetime | None  # when it falls due, in the channel's time zone; None: at once
    post: SocialPost
    checked: post_text.Checked
    editable: bool  # planned, and no worker has it yet
    moves: tuple[datetime, ...]  # the channel's free slots it may move to
    note: str | None  # why it stopped: skipped by whom, held, failed
    card: CardView | None  # the picture the post goes with


def card_view(digest: Digest, post: SocialPost) -> CardView | None:
    """The post's share card, with the alt text its platform is given; None without one."""
    path = post.image or ""
    address = parse_card_path(path)
    if address is None or address.position > len(digest.entries):
        return None
    entry = digest.entries[address.position - 1]
    return CardView(path, card_alt(entry), address.size.width, address.size.height)


def posting_times(ctx: Context, channel: str) -> tuple[tuple[time, ...], ZoneInfo]:
    settings = next((c for c in ctx.settings.social if c.name == channel), None)
    if settings is None:
        return (), ctx.settings.site.zone
    return settings.posting_times(), settings.posting_zone(ctx.settings.site)


def free_slots(ctx: Context, channel: str) -> list[datetime]:
    """The channel's next free slots, in its time zone."""
    times, zone = posting_times(ctx, channel)
    now = ctx.clock()
    taken = slots.slots_taken(ctx.store.engine, channel, now)
    return [slot.astimezone(zone) for slot in slots.free_slots(times, zone, now, FREE_SLOTS, taken)]


def planned_views(ctx: Context, digest: Digest, rows: list[Delivery]) -> list[PostRow]:
    free: dict[str, list[datetime]] = {}
    views = []
    for row in rows:
        post = SocialPost.from_dict(row.payload)
        _, zone = posting_times(ctx, row.target)
        editable = row.state is DeliveryState.PLANNED
        if editable and row.target not in free:
            free[row.target] = free_slots(ctx, row.target)
        views.append(
            PostRow(
                id=row.id,
                channel=row.target,
                state=row.state.value,
                at=row.available_at.astimezone(zone) if row.available_at else None,
                post=post,
                checked=post_text.check(post),
                editable=editable,
                # A thread's reply follows its first part: it moves with it, never alone.
                moves=tuple(free.get(row.target, ())) if post.reply_to is None else (),
                note=None if editable else row.last_error,
                card=card_view(digest, post),
            )
        )
    return views


def composed_views(digest: Digest, timed: list[jobs.TimedPost]) -> list[PostRow]:
    return [
        PostRow(None, each.channel, "not planned", each.at, each.post, post_text.check(each.post),
                editable=False, moves=(), note=None, card=card_view(digest, each.post))
        for each in timed
    ]  # fmt: skip


@auth.requires(Permission.VIEW)
async def posts_page(request: Request) -> Response:
    ctx = context_of(request)
    key = request.path_params["key"]
    digest = found_or_404(ctx, key).digest
    rows = post_edits.digest_posts(ctx.store.engine, key)
    if rows:
        views = planned_views(ctx, digest, rows)
    else:
        composed = jobs.post_times(ctx, digest, jobs.compose_posts(ctx, digest))
        views = composed_views(digest, composed)
    by_channel: dict[str, list[PostRow]] = {}
    for view in views:
        by_channel.setdefault(view.channel, []).append(view)
    return render(request, "posts.html.j2", digest=digest, planned=bool(rows), posts=by_channel)


@auth.requires(Permission.VIEW)
async def card(request: Request) -> Response:
    """A share card of any digest, a draft's or one composed now too (its cards drawn, not
    stored), with the public route's headers but private caching."""
    address = card_address(request, NO_CARD)
    found = previews.find_digest(context_of(request), address.digest_key)
    digest, stored = (found.digest, found.stored) if found else (None, False)
    return card_response(request, digest, address, keep=stored, cache=CARD_CACHE, missing=NO_CARD)


def post_row(ctx: Context, key: str, form: FormData) -> Delivery:
    """The digest's post row the form names (404 when it names none)."""
    try:
        row_id = int(str(form.get("post")))
    except ValueError:
        raise HTTPException(400, "No post named: reload the page and try again.") from None
    found = next(
        (r for r in post_edits.digest_posts(ctx.store.engine, key) if r.id == row_id), None
    )
    if found is None:
        raise HTTPException(404, f"No post {row_id} in {key}: reload the page.")
    return found


@auth.requires(Permission.POSTS)
async def count(request: Request) -> Response:
    """The typed text's count, what stops it being saved, and its pieces for the preview."""
    ctx = context_of(request)
    form = await checked_form(request)
    row = post_row(ctx, request.path_params["key"], form)
    post = post_text.edited(SocialPost.from_dict(row.payload), str(form.get("text") or ""))
    checked = post_text.check(post)
    answer = {
        "length": checked.length,
        "limit": checked.limit,
        "fits": checked.fits,
        "problems": list(checked.problems),
        "pieces": [asdict(piece) for piece in checked.pieces],
    }
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@auth.requires(Permission.POSTS)
async def change(request: Request) -> Response:
    """One change to a planned post: its text, its slot, skipped, or due now."""
    ctx = context_of(request)
    form = await checked_form(request)
    key = request.path_params["key"]
    row = post_row(ctx, key, form)
    action = str(form.get("action") or "")
    handlers = {"text": edit_text, "move": move, "skip": skip, "post-now": post_now}
    if action not in handlers:
        raise HTTPException(400, f"Unknown change {action!r}: reload the page and try again.")
    made = handlers[action](ctx, row, form, session_of(request).account.name)
    anchor = f"#post-{row.id}"
    if isinstance(made, str):
        return back_to(request, key, made, anchor, page=PAGE)
    changed, message, before, after = made
    if not changed:
        message = "Not changed: a worker has taken this post, it is no longer planned."
        return back_to(request, key, message, anchor, page=PAGE)
    what = {"post": SocialPost.from_dict(row.payload).key, "channel": row.target, "row": row.id}
    audit.record(
        ctx.store.engine,
        at=ctx.clock(),
        actor=session_of(request).actor,
        action=f"post.{action}",
        subject=key,
        before={**what, **before},
        after={**what, **after},
    )
    log.info("%s: post %s: %s by %s", key, row.id, action, session_of(request).account.name)
    return back_to(request, key, message, anchor, page=PAGE)


# A change: (whether the row changed, the message, the audit entry's before and after), or why
# nothing was tried.
Made = tuple[bool, str, dict[str, Any], dict[str, Any]] | str


def edit_text(ctx: Context, row: Delivery, form: FormData, who: str) -> Made:
    post = SocialPost.from_dict(row.payload)
    new = post_text.edited(post, str(form.get("text") or ""))
    checked = post_text.check(new)
    if not checked.fits:
        return f"Not saved: {'; '.join(checked.problems)}."
    if new.text == post.text:
        return "Nothing to save: the text is as it was."
    changed = post_edits.rewrite_post(ctx.store.engine, row.id, new.to_dict(), now=ctx.clock())
    message = f"Saved the {row.target} post ({checked.length}/{checked.limit})."
    return changed, message, {"text": post.text}, {"text": new.text}


def move(ctx: Context, row: Delivery, form: FormData, who: str) -> Made:
    try:
        wanted = datetime.fromisoformat(str(form.get("slot") or ""))
    except ValueError:
        return "Not moved: pick one of the free slots."
    if wanted not in free_slots(ctx, row.target):
        return "Not moved: that slot is taken or past; pick another."
    changed = post_edits.move_post(ctx.store.engine, row.id, wanted, now=ctx.clock())
    message = f"Moved the {row.target} post to {wanted.strftime('%a %d %b %H:%M %Z')}."
    return changed, message, {"at": _iso(row.available_at)}, {"at": wanted.isoformat()}


def skip(ctx: Context, row: Delivery, form: FormData, who: str) -> Made:
    reason = f"skipped on the desk by {who}"
    changed = post_edits.skip_post(ctx.store.engine, row.id, reason, now=ctx.clock())
    message = f"Skipped the {row.target} post: it will not go, and its slot is free."
    return changed, message, {"state": row.state.value}, {"state": DeliveryState.SKIPPED.value}


def post_now(ctx: Context, row: Delivery, form: FormData, who: str) -> Made:
    now = ctx.clock()
    changed = post_edits.move_post(ctx.store.engine, row.id, now, now=now)
    message = f"The {row.target} post is due now: `digest worker` posts it."
    return changed, message, {"at": _iso(row.available_at)}, {"at": now.isoformat()}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
