"""The editor's login: a password checked against its scrypt hash, or a token; a signed session
cookie that expires; a CSRF token on every form that changes anything.

The session cookie (Starlette's SessionMiddleware, signed with itsdangerous) lives only under
/editor, is HttpOnly and SameSite=Strict, and carries the editor's name, when the login ends, a
fingerprint of the credentials (changing the password or token logs everyone out) and the CSRF
token. Nothing secret is in it: the signature is what makes it trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from digest.passwords import BadHash, verify_password
from digest.settings import EditorSettings, SiteSettings
from digest.web.pages import context_of, path_for

Handler = Callable[[Request], Awaitable[Response]]

SESSION_COOKIE = "digest_editor"
CSRF_FIELD = "csrf_token"
MAX_NAME = 80
DISABLED = (
    "The editor is disabled: no editor password or token is configured. Set "
    "DIGEST_EDITOR_PASSWORD_HASH to the output of `digest editor hash-password` (or "
    "DIGEST_EDITOR_TOKEN to a long random string) for web.editor in settings.yaml, then restart "
    "`digest serve`."
)


def session_secret(site: SiteSettings) -> str:
    """The cookie-signing key: derived from the site's secret, never the secret itself."""
    key = site.secret_key.reveal().encode()
    return hmac.new(key, b"digest editor session v1", hashlib.sha256).hexdigest()


def credentials_fingerprint(site: SiteSettings, editor: EditorSettings) -> str:
    material = "\0".join(
        secret.reveal() if secret else "" for secret in (editor.password_hash, editor.token)
    )
    key = site.secret_key.reveal().encode()
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:32]


def check_credentials(editor: EditorSettings, password: str) -> bool:
    """Whether `password` is the editor password or the token (each compared in constant
    time; both are always checked, so timing does not tell which one exists)."""
    by_hash = False
    if editor.password_hash is not None:
        try:
            by_hash = verify_password(password, editor.password_hash.reveal())
        except BadHash:
            by_hash = False
    by_token = editor.token is not None and hmac.compare_digest(
        password.encode(), editor.token.reveal().encode()
    )
    return by_hash or by_token


def clean_name(name: str) -> str:
    """An editor's name as recorded on an approval: one line, printable, at most MAX_NAME."""
    printable = "".join(char if char.isprintable() else " " for char in name)
    return " ".join(printable.split())[:MAX_NAME]


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use (the login form uses it too)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: FormData) -> None:
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise HTTPException(
            403, "This form has expired or did not come from the editor: reload it and try again."
        )


def log_in(request: Request, name: str) -> None:
    ctx = context_of(request)
    editor = ctx.settings.web.editor
    request.session.clear()
    ends = ctx.clock() + timedelta(minutes=editor.session_minutes)
    request.session.update(
        editor=name,
        ends=ends.timestamp(),
        credentials=credentials_fingerprint(ctx.settings.site, editor),
        csrf=secrets.token_urlsafe(32),  # a new token: one seen before login is not reused
    )


def log_out(request: Request) -> None:
    request.session.clear()


def current_editor(request: Request) -> str | None:
    """The logged-in editor's name, or None (no session, expired, or credentials changed)."""
    ctx = context_of(request)
    session = request.session
    name, ends, fingerprint = session.get("editor"), session.get("ends"), session.get("credentials")
    if not isinstance(name, str) or not isinstance(ends, int | float):
        return None
    expected = credentials_fingerprint(ctx.settings.site, ctx.settings.web.editor)
    if not isinstance(fingerprint, str) or not hmac.compare_digest(fingerprint, expected):
        return None
    if ctx.clock().timestamp() >= ends:
        return None
    return name


def require_enabled(request: Request) -> None:
    if not context_of(request).settings.web.editor.enabled:
        raise HTTPException(503, DISABLED)


def editor_only(handler: Handler) -> Handler:
    """Editor pages: 503 while the editor is disabled; without a valid login, a GET is sent to
    the login page and anything else is refused with 401."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        require_enabled(request)
        if current_editor(request) is None:
            if request.method in ("GET", "HEAD"):
                login = path_for(request, "editor:login")
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{login}?next={quote(target)}", status_code=303)
            raise HTTPException(401, "Log in to the editor first: your session has ended.")
        return await handler(request)

    return guarded


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path inside the editor, never another site."""
    if not target or not target.startswith("/editor/"):
        return "/editor/"
    if any(char in target for char in "\\\r\n"):
        return "/editor/"
    return target
