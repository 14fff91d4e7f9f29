"""Logging in and out, and changing one's own password.

A login is throttled per account name and per client address (web/throttle.py, counted in the
store for every process): failed tries count, and past the limit the form says how long to
wait, with Retry-After. The bootstrap token (web.editor.token) logs in as an admin only while no
admin account exists: it is there to make the first accounts, nothing more.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from digest.store import accounts, audit
from digest.store.accounts import BOOTSTRAP, BOOTSTRAP_ACTOR, AccountError
from digest.web.editor import auth
from digest.web.editor.pages import render
from digest.web.editor.roles import Permission
from digest.web.pages import client_address, context_of, redirect_to
from digest.web.throttle import LOGIN_PER_ACCOUNT, LOGIN_PER_CLIENT, Throttle

log = logging.getLogger("digest")


async def login_form(request: Request) -> Response:
    auth.require_enabled(request)
    return render(request, "login.html.j2", next=auth.safe_next(request.query_params.get("next")))


def refused(request: Request, target: str, message: str, status_code: int) -> Response:
    return render(request, "login.html.j2", status_code=status_code, next=target, error=message)


async def login(request: Request) -> Response:
    auth.require_enabled(request)
    ctx = context_of(request)
    form = await request.form()
    auth.check_csrf(request, form)
    name = accounts.clean_name(str(form.get("name") or ""))
    password = str(form.get("password") or "")
    target = auth.safe_next(str(form.get("next") or ""))
    if not name or not password:
        return refused(request, target, "Type your account name and your password.", 400)
    throttle = Throttle(ctx.store.engine, ctx.clock)
    account_key, client = name.casefold(), client_address(request)
    for policy, key, whose in (
        (LOGIN_PER_ACCOUNT, account_key, "for this account"),
        (LOGIN_PER_CLIENT, client, "from your address"),
    ):
        verdict = throttle.test(policy, key)
        if not verdict.allowed:
            log.warning("editor login throttled (%s %r)", policy.name, key)
            response = refused(
                request,
                target,
                f"Too many failed logins {whose}. Wait {verdict.wait_words} and try again.",
                429,
            )
            response.headers["Retry-After"] = str(verdict.retry_after)
            return response
    now = ctx.clock()
    account = accounts.verify_login(ctx.store.engine, name, password, now)
    actor = account.actor if account else None
    token = ctx.settings.web.editor.token
    by_token = token is not None and hmac.compare_digest(password.encode(), token.reveal().encode())
    if account is None and by_token:
        if accounts.has_admin(ctx.store.engine):
            message = (
                "The bootstrap token no longer logs in: an admin account exists. Log in with "
                "your account (an admin can make you one, or `digest editor add`)."
            )
            return refused(request, target, message, 401)
        account, actor = BOOTSTRAP, BOOTSTRAP_ACTOR
    if account is None or actor is None:
        throttle.hit(LOGIN_PER_ACCOUNT, account_key)
        throttle.hit(LOGIN_PER_CLIENT, client)
        log.warning("editor login refused (name %r from %s)", name, client)
        return refused(request, target, "That name and password do not match an account.", 401)
    throttle.clear(LOGIN_PER_ACCOUNT, account_key)
    minutes = ctx.settings.web.editor.session_minutes
    session = accounts.open_session(
        ctx.store.engine, account, now=now, minutes=minutes, client=client
    )
    audit.record(
        ctx.store.engine,
        at=now,
        actor=actor,
        action="account.login",
        subject=f"account:{account.name}",
        after={"client": client},
    )
    log.info("editor %s logged in from %s", account.name, client)
    response = RedirectResponse(target, status_code=303)
    auth.start_session(request, response, session, minutes)
    return response


async def logout(request: Request) -> Response:
    form = await request.form()
    auth.check_csrf(request, form)
    response = redirect_to(request, "editor:login")
    auth.end_session(request, response)
    return response


@auth.requires(Permission.SELF)
async def password_form(request: Request) -> Response:
    return render(request, "password.html.j2")


@auth.requires(Permission.SELF)
async def change_password(request: Request) -> Response:
    """A new password for one's own account: every session of it ends, this one too."""
    ctx = context_of(request)
    form = await request.form()
    auth.check_csrf(request, form)
    session = auth.current_session(request)
    assert session is not None
    if session.account is BOOTSTRAP:
        return render(
            request,
            "password.html.j2",
            status_code=400,
            error="The bootstrap token has no password: add an account for yourself first.",
        )
    now = ctx.clock()
    current = str(form.get("current") or "")
    new, again = str(form.get("new") or ""), str(form.get("again") or "")
    if accounts.verify_login(ctx.store.engine, session.account.name, current, now) is None:
        error = "Your current password is not right."
    elif new != again:
        error = "The two new passwords differ: type the same one twice."
    else:
        try:
            accounts.set_password(ctx.store.engine, session.account.name, new, now)
        except AccountError as problem:
            error = f"Not changed: {problem}."
        else:
            audit.record(
                ctx.store.engine,
                at=now,
                actor=session.actor,
                action="account.password",
                subject=f"account:{session.account.name}",
                after={"sessions": "all ended"},
            )
            response = redirect_to(request, "editor:login", query="changed=1")
            response.delete_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
            return response
    return render(request, "password.html.j2", status_code=400, error=error)
