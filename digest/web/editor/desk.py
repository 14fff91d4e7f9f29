"""A digest's page on the desk: its email as composed and edited, the controls that curate it,
the message one subscriber would get, test-sends, approval and holds, its posts, its history.

Nothing here sends anything: a test-send is an outbox row marked as a test, which `digest worker`
delivers through the configured email adapter; an approval lets the scheduler send the digest.
Every change is written to the audit log with who made it, shown at the foot of the page.
"""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from digest import outbox
from digest.compose import ChangeSet, StaleEdit
from digest.context import Context
from digest.models import DeliveryChannel, Digest
from digest.render.email import preheader, subject_line
from digest.render.templates import date_range
from digest.schedule import jobs
from digest.schedule.messages import TEST_SEND, is_plain_address
from digest.schedule.status import Stage, digest_status
from digest.store import audit
from digest.store.codec import content_hash, digest_to_dict
from digest.store.edits import AlreadyPlanned
from digest.store.store import ApprovalStatus
from digest.web.editor import auth, previews
from digest.web.editor.pages import render, template_error
from digest.web.editor.roles import Permission, may
from digest.web.pages import context_of, path_for

log = logging.getLogger("digest")

PHONE, DESKTOP = 375, 600
SEARCH_RESULTS = 20
HISTORY = 100  # audit entries shown on the page
# The email's HTML is served in a sandboxed frame: no scripts, an opaque origin, no forms.
EMAIL_CSP = (
    "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)


def found_or_404(ctx: Context, key: str) -> previews.Found:
    found = previews.find_digest(ctx, key)
    if found is None:
        raise HTTPException(404, f"No digest {key!r}, stored or with news to compose it from.")
    return found


def session_of(request: Request) -> auth.Session:
    session = auth.current_session(request)
    assert session is not None  # the route's guard saw to it
    return session


def wanted_subscriber(request: Request) -> str | None:
    """The subscriber to view as, for a role that may see their message (403 otherwise)."""
    subscriber_id = request.query_params.get("subscriber") or None
    if subscriber_id is not None and not may(session_of(request).account.role, Permission.VIEW_AS):
        raise HTTPException(403, "Your role cannot view a digest as one subscriber receives it.")
    return subscriber_id


@dataclass(frozen=True, slots=True)
class StaleView:
    edit: StaleEdit
    title: str  # the item's title if the store still has it, else its id


def stale_views(ctx: Context, stale: tuple[StaleEdit, ...]) -> list[StaleView]:
    titles = ctx.store.item_titles([edit.item_id for edit in stale])
    return [StaleView(edit, titles.get(edit.item_id, edit.item_id)) for edit in stale]


@auth.requires(Permission.VIEW)
async def digest_page(request: Request) -> Response:
    ctx = context_of(request)
    key = request.path_params["key"]
    role = session_of(request).account.role
    subscriber_id = wanted_subscriber(request)
    width = PHONE if request.query_params.get("width") == str(PHONE) else DESKTOP
    looking_for = request.query_params.get("q", "").strip()[:100]
    finding = request.query_params.get("find", "").strip()[:100]
    try:
        found = found_or_404(ctx, key)
        digest = found.digest
        changes = jobs.changes_for(ctx, [key]).get(key, ChangeSet())
        status = digest_status(ctx, digest)
        builder = previews.builder_for(ctx, digest)
        values: dict[str, Any] = {
            "digest": digest,
            "stored": found.stored,
            "stale": stale_views(ctx, found.stale),
            "changes": changes,
            "dropped": ctx.store.item_titles(list(changes.drops)),
            "status": status,
            "content_hash": content_hash(digest),
            "requires_approval": jobs.requires_approval(ctx.settings, digest.kind),
            "waiting": jobs.not_released(ctx, digest),  # the approved content's hash included
            "editable": not status.is_out,
            "size": previews.size_view(builder, digest),
            "due": previews.due_view(ctx, digest, status),
            "message": previews.message_view(builder, digest, subscriber_id),
            "posts": previews.post_views(ctx, digest),
            "sections": section_choices(digest),
            "subscriber_id": subscriber_id,
            "looking_for": looking_for,
            "people": (
                ctx.store.search_subscribers(looking_for, limit=SEARCH_RESULTS)
                if looking_for and may(role, Permission.VIEW_AS)
                else []
            ),
            "finding": finding,
            "candidates": candidates(ctx, digest, finding) if finding else [],
            "history": audit.entries_for(ctx.store.engine, key, limit=HISTORY),
            "default_subject": subject_line(
                replace(digest, subject=None),
                date_range(digest.window_start, digest.window_end, ctx.settings.site.zone),
            ),
            "default_preheader": preheader(replace(digest, preheader=None)),
            "width": width,
            "phone": PHONE,
            "desktop": DESKTOP,
            "frame_src": email_src(request, key, subscriber_id),
            "width_link": lambda w: width_link(request, w),
        }
    except HTTPException:
        raise
    except Exception as error:
        problem = previews.template_problem(error)
        if problem is None:
            raise
        return template_error(problem)
    return render(request, "digest.html.j2", **values)


def section_choices(digest: Digest) -> list[str]:
    """Where an item may be moved: the digest's sections, then its items' other topics."""
    titles = [section.title for section in digest.sections]
    for entry in digest.entries:
        titles.extend(topic for topic in entry.item.topics if topic not in titles)
    return titles


def candidates(ctx: Context, digest: Digest, words: str) -> list[Any]:
    """The week's items matching `words` that the digest does not have yet."""
    present = {entry.item.id for entry in digest.entries}
    found = ctx.store.search_items(
        digest.window_start, digest.window_end, words, limit=SEARCH_RESULTS + len(present)
    )
    return [item for item in found if item.id not in present][:SEARCH_RESULTS]


def width_link(request: Request, width: int) -> str:
    query = {k: v for k, v in request.query_params.items() if k in ("subscriber",)}
    return "?" + urlencode({**query, "width": width})


def email_src(request: Request, key: str, subscriber_id: str | None) -> str:
    url = path_for(request, "editor:email_html", key=key)
    return f"{url}?{urlencode({'subscriber': subscriber_id})}" if subscriber_id else url


@auth.requires(Permission.VIEW)
async def email_html(request: Request) -> Response:
    """The HTML part alone, for the sandboxed preview frame."""
    ctx = context_of(request)
    found = found_or_404(ctx, request.path_params["key"])
    try:
        builder = previews.builder_for(ctx, found.digest)
        view = previews.message_view(builder, found.digest, wanted_subscriber(request))
    except HTTPException:
        raise
    except Exception as error:
        problem = previews.template_problem(error)
        if problem is None:
            raise
        return template_error(problem)
    if isinstance(view, previews.NotSent):
        body = f"<p>No message: {html.escape(view.reason)}</p>"
    elif view.html is None:
        body = "<p>This subscriber receives the text part only.</p>"
    else:
        body = view.html
    return HTMLResponse(
        body,
        headers={"Content-Security-Policy": EMAIL_CSP, "Cache-Control": "no-store"},
    )


# Changes -------------------------------------------------------------------------------------


def back_to(
    request: Request, key: str, message: str, anchor: str = "", *, page: str = "editor:digest"
) -> Response:
    """Back to the digest's page (or its posts' `page`), the message shown there once."""
    auth.flash(request, message)
    target = path_for(request, page, key=key)
    return RedirectResponse(f"{target}{anchor}", status_code=303)


async def checked_form(request: Request) -> FormData:
    form = await request.form()
    auth.check_csrf(request, form)
    return form


async def decision(request: Request, status: ApprovalStatus) -> Response:
    ctx = context_of(request)
    form = await checked_form(request)
    key = request.path_params["key"]
    found = found_or_404(ctx, key)
    if digest_status(ctx, found.digest).is_out:
        raise HTTPException(
            409, "This digest is already planned for its recipients: it can no longer be held."
        )
    if status is ApprovalStatus.APPROVED and form.get("content_hash") != content_hash(found.digest):
        return back_to(
            request,
            key,
            "Not approved: the digest changed since you opened it (an edit, or news that "
            "arrived). Look at it again, then approve what you see.",
        )
    session = session_of(request)
    made = jobs.decide(ctx, found.digest, status, session.account.name, actor=session.actor)
    if status is ApprovalStatus.HELD:
        return back_to(request, key, "Held: it will not be sent until it is approved.")
    if made.planned_now:
        return back_to(request, key, planned_now_message(ctx, found.digest, "Approved"))
    return back_to(request, key, "Approved: the scheduler sends it at its time.")


def planned_now_message(ctx: Context, digest: Digest, done: str) -> str:
    counts = digest_status(ctx, digest).counts
    return (
        f"{done}. Its scheduled time had passed, so it is planned now for "
        f"{counts.planned_words()}; `digest worker` sends them."
    )


@auth.requires(Permission.DECIDE)
async def send_now(request: Request) -> Response:
    """A missed run, sent by an editor: planned at once, as its run would have planned it."""
    ctx = context_of(request)
    await checked_form(request)
    key = request.path_params["key"]
    found = found_or_404(ctx, key)
    status = digest_status(ctx, found.digest)
    if status.stage is not Stage.MISSED:
        raise HTTPException(
            409, f"Only a missed digest is sent from here; this one is {status.words}."
        )
    session = session_of(request)
    ctx.store.save_digest(found.digest)
    jobs.plan_now(ctx, found.digest)
    audit.record(
        ctx.store.engine,
        at=ctx.clock(),
        actor=session.actor,
        action="digest.send-now",
        subject=key,
        after={"content_hash": content_hash(found.digest)},
    )
    log.info("%s sent now by %s after a missed run", key, session.account.name)
    return back_to(request, key, planned_now_message(ctx, found.digest, "Sent now"))


@auth.requires(Permission.DECIDE)
async def approve(request: Request) -> Response:
    return await decision(request, ApprovalStatus.APPROVED)


@auth.requires(Permission.DECIDE)
async def hold(request: Request) -> Response:
    return await decision(request, ApprovalStatus.HELD)


@auth.requires(Permission.TEST_SEND)
async def test_send(request: Request) -> Response:
    ctx = context_of(request)
    form = await checked_form(request)
    key = request.path_params["key"]
    found = found_or_404(ctx, key)
    session = session_of(request)
    address = str(form.get("address") or "").strip()
    if not is_plain_address(address):
        return back_to(request, key, f"Not sent: {address!r} is not an email address.")
    payload: dict[str, Any] = {
        "kind": TEST_SEND,
        "address": address,
        "requested_by": session.account.name,
    }
    if not found.stored:
        # Not stored yet (and storing it would freeze it): the row carries what was previewed.
        payload["digest"] = digest_to_dict(found.digest)
    row = outbox.PlannedDelivery(
        idempotency_key=f"{key}/test/{secrets.token_hex(8)}",
        digest_key=key,
        channel=DeliveryChannel.EMAIL,
        target=address[:200],
        payload=payload,
        is_test=True,
    )
    now = ctx.clock()
    outbox.plan(ctx.store.engine, [row], now=now)
    audit.record(
        ctx.store.engine,
        at=now,
        actor=session.actor,
        action="digest.test-send",
        subject=key,
        after={"address": address, "content_hash": content_hash(found.digest)},
    )
    log.info("test-send of %s to %s planned", key, address)
    return back_to(
        request,
        key,
        f"Test-send to {address} is in the outbox, marked as a test; `digest worker` delivers "
        "it through the configured email adapter.",
        "#test-send",
    )


# Curating ------------------------------------------------------------------------------------

# What each curating action does to the change set, and its name in the audit log.
ITEM_ACTIONS = {
    "pin": ("digest.pin", "Pinned to the top"),
    "unpin": ("digest.unpin", "Unpinned"),
    "drop": ("digest.drop", "Left out"),
    "restore": ("digest.restore", "Put back"),
    "add": ("digest.add", "Added"),
    "up": ("digest.reorder", "Moved up"),
    "down": ("digest.reorder", "Moved down"),
    "move": ("digest.move", "Moved"),
    "forget": ("digest.forget", "Forgot the edit of"),
}


@auth.requires(Permission.CURATE)
async def edit(request: Request) -> Response:
    """One curating action from the digest's page: an item pinned, dropped, moved, added, or
    the note, subject and preheader saved."""
    ctx = context_of(request)
    form = await checked_form(request)
    key = request.path_params["key"]
    action = str(form.get("action") or "")
    current = jobs.compose_key(ctx, key)
    if current is None:
        raise HTTPException(404, f"No digest {key!r} with news to compose it from.")
    changes = jobs.changes_for(ctx, [key]).get(key, ChangeSet())
    if action == "text":
        return await save_text(request, ctx, key, form, changes)
    if action not in ITEM_ACTIONS:
        raise HTTPException(400, f"Unknown change {action!r}: reload the page and try again.")
    item_id = str(form.get("item") or "")
    titles = ctx.store.item_titles([item_id])
    if item_id not in titles:
        raise HTTPException(404, f"No item {item_id!r} in the store.")
    section = str(form.get("section") or "").strip()
    updated = {
        "pin": lambda: changes.pin(item_id),
        "unpin": lambda: changes.unpin(item_id),
        "drop": lambda: changes.drop(item_id),
        "restore": lambda: changes.restore(item_id),
        "add": lambda: changes.add(item_id),
        "up": lambda: changes.reorder(current.digest, item_id, -1),
        "down": lambda: changes.reorder(current.digest, item_id, 1),
        "move": lambda: changes.move_to(item_id, section) if section else changes,
        "forget": lambda: forget(changes, current.stale, item_id, str(form.get("kind") or "")),
    }[action]()
    audit_action, done = ITEM_ACTIONS[action]
    after: dict[str, Any] = {"item": item_id, "title": titles[item_id]}
    if action == "move":
        after["section"] = section
    message = f"{done}: {titles[item_id]}" + (f" (to {section})" if action == "move" else "")
    return save(request, ctx, key, updated, audit_action, message, after=after, anchor="#contents")


def forget(changes: ChangeSet, stale: tuple[StaleEdit, ...], item_id: str, kind: str) -> ChangeSet:
    for edit in stale:
        if edit.item_id == item_id and edit.kind == kind:
            return changes.forget(edit)
    return changes


async def save_text(
    request: Request, ctx: Context, key: str, form: FormData, changes: ChangeSet
) -> Response:
    updated = changes.with_text(
        note=str(form.get("note") or ""),
        subject=str(form.get("subject") or ""),
        preheader=str(form.get("preheader") or ""),
    )
    fields = ("note", "subject", "preheader")
    changed = [name for name in fields if getattr(changes, name) != getattr(updated, name)]
    before = {name: getattr(changes, name) for name in changed}
    after = {name: getattr(updated, name) for name in changed}
    if not changed:
        message = "Nothing to save: the note, subject and preheader are as they were."
        return back_to(request, key, message, "#words")
    return save(
        request,
        ctx,
        key,
        updated,
        "digest.text",
        f"Saved the {', '.join(after)}.",
        before=before,
        after=after,
        anchor="#words",
    )


def save(
    request: Request,
    ctx: Context,
    key: str,
    changes: ChangeSet,
    action: str,
    message: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    anchor: str = "",
) -> Response:
    session = session_of(request)
    try:
        saved = jobs.save_edit(
            ctx, key, changes, actor=session.actor, action=action, before=before, after=after
        )
    except AlreadyPlanned:
        raise HTTPException(
            409, "This digest is already planned for its recipients: it can no longer change."
        ) from None
    if saved is None:
        raise HTTPException(404, f"No digest {key!r} with news to compose it from.")
    if saved.unapproved:
        message += " It was approved: the edit returned it to draft, approve it again to send it."
    return back_to(request, key, message, anchor)
