"""Accounts, for admins: who may use the desk and with which role; add one, change a role,
disable or enable an account, end its sessions. Each change is in the audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from digest.store import accounts, audit
from digest.store.accounts import AccountError, Role
from digest.web.editor import auth
from digest.web.editor.pages import render
from digest.web.editor.roles import GRANTS, WHAT, Permission
from digest.web.pages import context_of, redirect_to


@auth.requires(Permission.ACCOUNTS)
async def accounts_page(request: Request) -> Response:
    return show_accounts(request)


def show_accounts(request: Request, error: str | None = None) -> Response:
    ctx = context_of(request)
    return render(
        request,
        "accounts.html.j2",
        status_code=400 if error else 200,
        people=accounts.accounts(ctx.store.engine),
        sessions=accounts.live_sessions(ctx.store.engine, ctx.clock()),
        roles=list(Role),
        grants={role: sorted(WHAT[p] for p in GRANTS[role]) for role in Role},
        error=error,
    )


@auth.requires(Permission.ACCOUNTS)
async def change_account(request: Request) -> Response:
    ctx = context_of(request)
    form = await request.form()
    auth.check_csrf(request, form)
    session = auth.current_session(request)
    assert session is not None
    engine, now = ctx.store.engine, ctx.clock()
    action = str(form.get("action") or "")
    name = accounts.clean_name(str(form.get("name") or ""))
    try:
        if action == "add":
            role = Role(str(form.get("role") or "editor"))
            account = accounts.create_account(
                engine,
                name=name,
                email=str(form.get("email") or ""),
                role=role,
                password=str(form.get("password") or ""),
                now=now,
            )
            after = {"role": account.role.value, "email": account.email}
            message = f"Added {account.name} ({account.role.value})."
        elif action == "role":
            role = Role(str(form.get("role") or ""))
            before = accounts.account_named(engine, name)
            account = accounts.set_role(engine, name, role)
            after = {"role": role.value, "was": before.role.value if before else ""}
            message = f"{account.name} is now {role.value}."
        elif action in ("disable", "enable"):
            account = accounts.set_disabled(engine, name, action == "disable")
            after = {"disabled": account.disabled}
            message = f"{account.name} is {action}d" + (
                ": their sessions ended." if account.disabled else "."
            )
        elif action == "end-sessions":
            ended = accounts.end_sessions(engine, name)
            after = {"sessions_ended": ended}
            message = f"Ended {ended} session{'s' if ended != 1 else ''} of {name}."
        else:
            return show_accounts(request, f"Unknown change {action!r}.")
    except (AccountError, ValueError) as problem:
        return show_accounts(request, f"Not done: {problem}.")
    audit.record(
        engine,
        at=now,
        actor=session.actor,
        action=f"account.{action}",
        subject=f"account:{name}",
        after=after,
    )
    auth.flash(request, message)
    return redirect_to(request, "editor:accounts")
