"""The editor's side, under /editor: upcoming and past digests, each previewed as its email and
its social posts; view as a subscriber; test-send; approve or hold.

Nothing here sends anything: a test-send is an outbox row marked as a test, which `digest worker`
delivers through the configured email adapter; an approval lets the scheduler send the digest.
"""

from __future__ import annotations

import html
import logging
import secrets
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from digest import outbox
from digest.context import Context
from digest.models import DeliveryChannel, Digest
from digest.schedule import jobs
from digest.schedule.messages import TEST_SEND, is_plain_address
from digest.schedule.status import Stage, digest_status
from digest.store.codec import digest_to_dict
from digest.store.store import ApprovalStatus
from digest.web.editor import auth, previews
from digest.web.pages import context_of, path_for, redirect_to, url_maker

log = logging.getLogger("digest")

PHONE, DESKTOP = 375, 600
# The email's HTML is served in a sandboxed frame: no scripts, an opaque origin, no forms.
EMAIL_CSP = (
    "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    """An editor page; a template that fails shows its file, line and message instead."""
    ctx = context_of(request)
    try:
        page_html = ctx.env.get_template(f"web/editor/{template}").render(
            site=ctx.settings.site,
            request=request,
            url_for=url_maker(request),
            editor=auth.current_editor(request),
            csrf_field=auth.CSRF_FIELD,
            csrf_token=auth.csrf_token(request),
            **values,
        )
    except Exception as error:
        problem = previews.template_problem(error)
        if problem is None:
            raise
        return template_error(problem)
    return HTMLResponse(page_html, status_code=status_code)


def template_error(problem: previews.TemplateProblem) -> Response:
    """Plain HTML, no template: the templates are what is broken."""
    where = f"line {problem.line}" if problem.line is not None else "(no line)"
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Template error</title></head><body style='font-family:sans-serif;margin:2em'>"
        "<h1>Template error</h1>"
        f"<p>File: <code class=template-file>{html.escape(problem.file)}</code></p>"
        f"<p>Line: <code class=template-line>{html.escape(where)}</code></p>"
        f"<pre class=template-message>{html.escape(problem.message)}</pre>"
        "<p>Fix the template and reload this page: templates are read again when they change."
        "</p></body></html>"
    )
    return HTMLResponse(body, status_code=500)


# Login ---------------------------------------------------------------------------------------


async def login_form(request: Request) -> Response:
    auth.require_enabled(request)
    return render(request, "login.html.j2", next=auth.safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    auth.require_enabled(request)
    form = await request.form()
    auth.check_csrf(request, form)
    name = auth.clean_name(str(form.get("name") or ""))
    password = str(form.get("password") or "")
    target = auth.safe_next(str(form.get("next") or ""))
    editor = context_of(request).settings.web.editor
    if not name or not password or not auth.check_credentials(editor, password):
        log.warning("editor login refused (name %r)", name)
        message = (
            "Type your name: it is recorded on what you approve."
            if not name
            else "That password or token is not right."
        )
        return render(request, "login.html.j2", status_code=401, next=target, error=message)
    auth.log_in(request, name)
    log.info("editor %s logged in", name)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    auth.check_csrf(request, form)
    auth.log_out(request)
    return redirect_to(request, "editor:login")


# Pages ---------------------------------------------------------------------------------------


@auth.editor_only
async def index(request: Request) -> Response:
    ctx = context_of(request)
    upcoming, past = previews.digest_lists(ctx)
    return render(request, "index.html.j2", upcoming=upcoming, past=past)


def found_or_404(ctx: Context, key: str) -> previews.Found:
    found = previews.find_digest(ctx, key)
    if found is None:
        raise HTTPException(404, f"No digest {key!r}, stored or with news to compose it from.")
    return found


@auth.editor_only
async def digest_page(request: Request) -> Response:
    ctx = context_of(request)
    key = request.path_params["key"]
    subscriber_id = request.query_params.get("subscriber") or None
    width = PHONE if request.query_params.get("width") == str(PHONE) else DESKTOP
    try:
        found = found_or_404(ctx, key)
        digest = found.digest
        values = {
            "digest": digest,
            "stored": found.stored,
            "status": digest_status(ctx, digest),
            "requires_approval": jobs.requires_approval(ctx.settings, digest.kind),
            "size": previews.size_view(ctx, digest),
            "message": previews.message_view(ctx, digest, subscriber_id),
            "posts": previews.post_views(ctx, digest),
            "subscribers": ctx.store.subscribers(),
            "subscriber_id": subscriber_id,
            "width": width,
            "phone": PHONE,
            "desktop": DESKTOP,
            "frame_src": email_src(request, key, subscriber_id),
            "flash": request.session.pop("flash", None),
        }
    except HTTPException:
        raise
    except Exception as error:
        problem = previews.template_problem(error)
        if problem is None:
            raise
        return template_error(problem)
    return render(request, "digest.html.j2", **values)


def email_src(request: Request, key: str, subscriber_id: str | None) -> str:
    url = path_for(request, "editor:email_html", key=key)
    return f"{url}?subscriber={quote(subscriber_id)}" if subscriber_id else url


@auth.editor_only
async def email_html(request: Request) -> Response:
    """The HTML part alone, for the sandboxed preview frame."""
    ctx = context_of(request)
    found = found_or_404(ctx, request.path_params["key"])
    try:
        view = previews.message_view(ctx, found.digest, request.query_params.get("subscriber"))
    except Exception as error:
        problem = previews.template_problem(error)
        if problem is None:
            raise
        return template_error(problem)
    if isinstance(view, previews.NotSent):
        body = f"<p style='font-family:sans-serif'>No message: {html.escape(view.reason)}</p>"
    elif view.html is None:
        body = "<p style='font-family:sans-serif'>This subscriber receives the text part only.</p>"
    else:
        body = view.html
    return HTMLResponse(
        body,
        headers={"Content-Security-Policy": EMAIL_CSP, "Cache-Control": "no-store"},
    )


# Changes -------------------------------------------------------------------------------------


def back_to(request: Request, key: str, message: str) -> Response:
    request.session["flash"] = message
    return redirect_to(request, "editor:digest", key=key)


async def decision(request: Request, status: ApprovalStatus) -> Response:
    ctx = context_of(request)
    form = await request.form()
    auth.check_csrf(request, form)
    key = request.path_params["key"]
    found = found_or_404(ctx, key)
    if digest_status(ctx, found.digest).is_out:
        raise HTTPException(
            409, "This digest is already planned for its recipients: it can no longer be held."
        )
    editor = auth.current_editor(request)
    assert editor is not None  # editor_only saw to it
    made = jobs.decide(ctx, found.digest, status, editor)
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


@auth.editor_only
async def send_now(request: Request) -> Response:
    """A missed run, sent by an editor: planned at once, as its run would have planned it."""
    ctx = context_of(request)
    form = await request.form()
    auth.check_csrf(request, form)
    key = request.path_params["key"]
    found = found_or_404(ctx, key)
    status = digest_status(ctx, found.digest)
    if status.stage is not Stage.MISSED:
        raise HTTPException(
            409, f"Only a missed digest is sent from here; this one is {status.words}."
        )
    ctx.store.save_digest(found.digest)
    jobs.plan_now(ctx, found.digest)
    log.info("%s sent now by %s after a missed run", key, auth.current_editor(request))
    return back_to(request, key, planned_now_message(ctx, found.digest, "Sent now"))


@auth.editor_only
async def approve(request: Request) -> Response:
    return await decision(request, ApprovalStatus.APPROVED)


@auth.editor_only
async def hold(request: Request) -> Response:
    return await decision(request, ApprovalStatus.HELD)


@auth.editor_only
async def test_send(request: Request) -> Response:
    ctx = context_of(request)
    form = await request.form()
    auth.check_csrf(request, form)
    key = request.path_params["key"]
    found = found_or_404(ctx, key)
    address = str(form.get("address") or "").strip()
    if not is_plain_address(address):
        return back_to(request, key, f"Not sent: {address!r} is not an email address.")
    payload: dict[str, Any] = {
        "kind": TEST_SEND,
        "address": address,
        "requested_by": auth.current_editor(request),
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
    outbox.plan(ctx.store.engine, [row], now=ctx.clock())
    log.info("test-send of %s to %s planned", key, address)
    return back_to(
        request,
        key,
        f"Test-send to {address} is in the outbox, marked as a test; `digest worker` delivers "
        "it through the configured email adapter.",
    )


routes = [
    Route("/", index, name="index"),
    Route("/login", login_form, name="login", methods=["GET"]),
    Route("/login", login, name="login_post", methods=["POST"]),
    Route("/logout", logout, name="logout", methods=["POST"]),
    Route("/digest/{key:str}", digest_page, name="digest"),
    Route("/digest/{key:str}/email.html", email_html, name="email_html"),
    Route("/digest/{key:str}/approve", approve, name="approve", methods=["POST"]),
    Route("/digest/{key:str}/hold", hold, name="hold", methods=["POST"]),
    Route("/digest/{key:str}/send-now", send_now, name="send_now", methods=["POST"]),
    Route("/digest/{key:str}/test-send", test_send, name="test_send", methods=["POST"]),
]


def mount(ctx: Context) -> Mount:
    """The editor's routes under /editor, with their session cookie (only under /editor)."""
    editor = ctx.settings.web.editor
    if not editor.enabled:
        log.warning("%s", auth.DISABLED)
    session = Middleware(
        SessionMiddleware,
        secret_key=auth.session_secret(ctx.settings.site),
        session_cookie=auth.SESSION_COOKIE,
        max_age=editor.session_minutes * 60,
        path="/editor",
        same_site="strict",
        https_only=editor.secure_cookie,
    )
    return Mount("/editor", routes=routes, name="editor", middleware=[session])
