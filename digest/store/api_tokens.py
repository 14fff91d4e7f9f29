"""API tokens: made once and shown once, kept only as their SHA-256, scoped, revocable.

A token is `dgst_` and 43 random URL-safe characters (256 bits): far too many to guess, so a
plain SHA-256 is enough to keep it (a slow password hash protects guessable secrets, and would
cost every API request its time). Looking a token up by its hash compares no secret in Python.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from digest.store.schema import api_tokens

TOKEN_PREFIX = "dgst_"

# What a token may do; `subscribers:import` adds subscribers already confirmed (no double
# opt-in), on top of `subscribers:write`.
SCOPES = (
    "items:read",
    "items:write",
    "digests:read",
    "subscribers:read",
    "subscribers:write",
    "subscribers:import",
    "webhooks:read",
    "webhooks:write",
)

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


@dataclass(frozen=True, slots=True)
class ApiToken:
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def name_problem(name: str) -> str | None:
    if NAME.fullmatch(name):
        return None
    return "use 1 to 80 lower-case letters, digits, dots, hyphens or underscores (like cms-prod)"


def scopes_problem(scopes: tuple[str, ...]) -> str | None:
    if not scopes:
        return f"give at least one scope: {', '.join(SCOPES)}"
    for scope in scopes:
        if scope not in SCOPES:
            close = difflib.get_close_matches(scope, SCOPES, n=1)
            hint = f"did you mean {close[0]}?" if close else f"choose from {', '.join(SCOPES)}"
            return f"unknown scope {scope!r}; {hint}"
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(engine: Engine, name: str, scopes: tuple[str, ...], now: datetime) -> str:
    """Make a token under `name` and return it (the only time it is seen). A revoked token's
    name may be used again; a live one's may not (ValueError: revoke it first)."""
    for problem in (name_problem(name), scopes_problem(scopes)):
        if problem:
            raise ValueError(problem)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    values = {
        "name": name,
        "token_hash": token_hash(token),
        "prefix": token[: len(TOKEN_PREFIX) + 6],
        "scopes": sorted(set(scopes), key=SCOPES.index),
        "created_at": now,
        "last_used_at": None,
        "revoked_at": None,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(api_tokens).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[api_tokens.c.name],
        set_={key: value for key, value in values.items() if key != "name"},
        where=api_tokens.c.revoked_at.is_not(None),
    ).returning(api_tokens.c.name)
    with engine.begin() as connection:
        if connection.execute(statement).first() is None:
            raise ValueError(f"a token named {name!r} exists; revoke it first or choose another")
    return token


def tokens(engine: Engine) -> list[ApiToken]:
    with engine.connect() as connection:
        rows = connection.execute(select(api_tokens).order_by(api_tokens.c.name)).all()
    return [_token(row) for row in rows]


def revoke(engine: Engine, name: str, now: datetime) -> bool:
    """Revoke at once; False when no live token has that name."""
    statement = (
        update(api_tokens)
        .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(api_tokens.c.name)
    )
    with engine.begin() as connection:
        return connection.execute(statement).first() is not None


def authenticate(engine: Engine, token: str, now: datetime) -> ApiToken | None:
    """The token's record (revoked ones too: the caller says which it was), or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    query = select(api_tokens).where(api_tokens.c.token_hash == token_hash(token))
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    if row is None:
        return None
    found = _token(row)
    if not found.revoked and (found.last_used_at is None or now - found.last_used_at > USED_EVERY):
        with engine.begin() as connection:
            connection.execute(
                update(api_tokens).where(api_tokens.c.name == found.name).values(last_used_at=now)
            )
    return found


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
