"""Logins to the desk: accounts and server-side sessions (store/accounts.py), the cookie that
carries a session's token, CSRF tokens, and the guard every editor route goes through.

The cookie holds only a random token (HttpOnly, SameSite=Strict, path /editor, and Secure when
the request came over https, as web.trusted_proxies tell); the session itself is a row, so
logging out or a password change ends it on every process. Before login, the form's CSRF token
is a second cookie that the form repeats (double submit). Every route declares the permission it
needs (roles.py); without a session a page sends the browser to the login form, a change is
refused with 401; with a role that lacks the permission, 403 and what the role cannot do.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from digest.store import accounts
from digest.store.accounts import Session
from digest.web.editor.roles import Permission, may, refusal
from digest.web.pages import context_of, path_for

Handler = Callable[[Request], Awaitable[Response]]

SESSION_COOKIE = "digest_editor"
LOGIN_COOKIE = "digest_editor_login"  # the login form's CSRF token, before any session
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/editor"
DISABLED = (
    "The editor has no accounts yet. Make the first one with `digest editor add NAME EMAIL "
    "--role admin` (it asks for the password), or set DIGEST_EDITOR_TOKEN (web.editor.token in "
    "settings.yaml) to a long random string to log in once and add accounts in the browser; "
    "then reload this page."
)


def enabled(request: Request) -> bool:
    """Whether anyone can log in: an account exists, or the bootstrap token is configured."""
    ctx = context_of(request)
    return ctx.settings.web.editor.token is not None or bool(accounts.accounts(ctx.store.engine))


def require_enabled(request: Request) -> None:
    if not enabled(request):
        raise HTTPException(503, DISABLED)


def current_session(request: Request) -> Session | None:
    """This request's live session, looked up once per request."""
    looked_up: tuple[Session | None] | None = getattr(request.state, "editor_session", None)
    if looked_up is None:
        token = request.cookies.get(SESSION_COOKIE)
        ctx = context_of(request)
        found = accounts.session_for(ctx.store.engine, token, ctx.clock()) if token else None
        looked_up = (found,)
        request.state.editor_session = looked_up
    return looked_up[0]


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def csrf_token(request: Request) -> str:
    """The token forms carry: the session's, or before login the login cookie's (made once)."""
    session = current_session(request)
    if session is not None:
        return session.csrf_token
    token = request.cookies.get(LOGIN_COOKIE) or getattr(request.state, "login_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.login_csrf = token
    return str(token)


def keep_login_cookie(request: Request, response: Response) -> None:
    """Give the browser the login form's CSRF cookie if this request made one."""
    token = getattr(request.state, "login_csrf", None)
    if token:
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def check_csrf(request: Request, form: FormData) -> None:
    session = current_session(request)
    expected = session.csrf_token if session else request.cookies.get(LOGIN_COOKIE)
    sent = form.get(CSRF_FIELD)
    if (
        not isinstance(sent, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise HTTPException(
            403, "This form has expired or did not come from the editor: reload it and try again."
        )


def start_session(request: Request, response: Response, token: str, minutes: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=minutes * 60,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)


def end_session(request: Request, response: Response) -> None:
    token = session_token(request)
    if token:
        accounts.end_session(context_of(request).store.engine, token)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


def flash(request: Request, message: str) -> None:
    """A message for the next page this session sees ("Approved: …")."""
    token = session_token(request)
    if token:
        accounts.set_flash(context_of(request).store.engine, token, message)


def take_flash(request: Request) -> str | None:
    session, token = current_session(request), session_token(request)
    if session is None or session.flash is None or token is None:
        return None
    accounts.set_flash(context_of(request).store.engine, token, None)
    return session.flash


def requires(permission: Permission) -> Callable[[Handler], Handler]:
    """The guard of an editor route: a live session whose role has `permission`."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request) -> Response:
            session = current_session(request)
            if session is None:
                require_enabled(request)
                if request.method in ("GET", "HEAD"):
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    login = path_for(request, "editor:login")
                    return RedirectResponse(f"{login}?next={quote(target)}", status_code=303)
                raise HTTPException(401, "Log in to the editor first: your session has ended.")
            if not may(session.account.role, permission):
                raise HTTPException(403, refusal(session.account.role, permission))
            return await handler(request)

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded

    return decorate


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path inside the editor, never another site."""
    if not target or not target.startswith("/editor/"):
        return "/editor/"
    if any(char in target for char in "\\\r\n"):
        return "/editor/"
    return target
