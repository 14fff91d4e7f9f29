"""Editor accounts and their server-side sessions.

Passwords are hashed with argon2id (argon2-cffi, RFC 9106's low-memory profile: 64 MiB, 3 passes,
4 lanes), stored as PHC strings that name their own cost; a hash made with an older cost is
upgraded at the next successful login. A login for a name that does not exist costs the same
hashing work, so timing does not tell which names exist.

A session is a random token in the browser's cookie; the table keeps only its SHA-256, with the
account, a CSRF token, when it ends and where it logged in from. Logging out deletes the row; a
password change, a disabled account or an admin ends all of an account's sessions at once, for
every process.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.store.engine import write_transaction
from digest.store.schema import editor_accounts, editor_sessions

MIN_PASSWORD = 12
MAX_NAME = 80
_HASHER = PasswordHasher()  # argon2id; its defaults are RFC 9106's low-memory profile


@functools.cache
def _no_account_hash() -> str:
    """Verified against when the name is unknown, so a miss takes as long as a wrong password.
    Made on first use: hashing costs argon2's 64 MiB and half a second, which every command
    line start paid when it was made at import."""
    return _HASHER.hash(secrets.token_hex(16))


class Role(StrEnum):
    MARKETING = "marketing"  # posts only: edits and schedules them, nothing on email
    EDITOR = "editor"  # curates, approves, holds and test-sends digests (and posts)
    ADMIN = "admin"  # everything, and manages the accounts


class AccountError(ValueError):
    """A request about accounts that cannot be done, in words for the person who asked."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    email: str
    role: Role
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def actor(self) -> str:
        """How the audit log names them."""
        return f"editor:{self.name}"


# The bootstrap token's sessions have no account: an admin named for what it is.
BOOTSTRAP = Account(
    id=0,
    name="bootstrap token",
    email="",
    role=Role.ADMIN,
    disabled=False,
    created_at=datetime.min,
    last_login_at=None,
)
BOOTSTRAP_ACTOR = "token:bootstrap"


@dataclass(frozen=True, slots=True)
class Session:
    account: Account
    csrf_token: str
    expires_at: datetime
    actor: str
    flash: str | None


def clean_name(name: str) -> str:
    """An account name: one printable line, spaces collapsed, at most MAX_NAME characters."""
    printable = "".join(char if char.isprintable() else " " for char in name)
    return " ".join(printable.split())[:MAX_NAME]


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        email=row.email,
        role=Role(row.role),
        disabled=row.disabled,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def create_account(
    engine: Engine, *, name: str, email: str, role: Role, password: str, now: datetime
) -> Account:
    name = clean_name(name)
    email = email.strip()
    if not name:
        raise AccountError("the name is empty: it is what they log in with")
    if "@" not in email or any(char.isspace() for char in email) or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address")
    check_password(password)
    row = {
        "name": name,
        "email": email,
        "role": Role(role).value,
        "password_hash": _HASHER.hash(password),
        "created_at": now,
        "password_changed_at": now,
    }
    try:
        with write_transaction(engine) as connection:
            connection.execute(insert(editor_accounts).values(row))
    except IntegrityError:
        raise AccountError(f"there is already an account named {name!r}") from None
    found = account_named(engine, name)
    assert found is not None
    return found


def accounts(engine: Engine) -> list[Account]:
    query = select(editor_accounts).order_by(editor_accounts.c.name)
    with engine.connect() as connection:
        return [_account(row) for row in connection.execute(query)]


def account_named(engine: Engine, name: str) -> Account | None:
    query = select(editor_accounts).where(editor_accounts.c.name == clean_name(name))
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    return _account(row) if row is not None else None


def has_admin(engine: Engine) -> bool:
    """Whether an enabled admin account exists (then the bootstrap token no longer logs in)."""
    columns = editor_accounts.c
    query = select(func.count()).where(columns.role == Role.ADMIN.value, ~columns.disabled)
    with engine.connect() as connection:
        return bool(connection.scalar(query))


def verify_login(engine: Engine, name: str, password: str, now: datetime) -> Account | None:
    """The enabled account `name` if `password` is its password, else None; the hash is
    upgraded when its cost is older than today's."""
    query = select(editor_accounts).where(editor_accounts.c.name == clean_name(name))
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    stored = row.password_hash if row is not None else _no_account_hash()
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    changes: dict[str, Any] = {"last_login_at": now}
    if _HASHER.check_needs_rehash(stored):
        changes["password_hash"] = _HASHER.hash(password)
    with write_transaction(engine) as connection:
        connection.execute(
            update(editor_accounts).where(editor_accounts.c.id == row.id).values(changes)
        )
    return _account(row)


def _change(engine: Engine, name: str, values: dict[str, Any], *, end_sessions: bool) -> Account:
    account = account_named(engine, name)
    if account is None:
        raise AccountError(f"no account is named {clean_name(name)!r}")
    with write_transaction(engine) as connection:
        connection.execute(
            update(editor_accounts).where(editor_accounts.c.id == account.id).values(values)
        )
        if end_sessions:
            connection.execute(
                delete(editor_sessions).where(editor_sessions.c.account_id == account.id)
            )
    changed = account_named(engine, account.name)
    assert changed is not None
    return changed


def set_password(engine: Engine, name: str, password: str, now: datetime) -> Account:
    """A new password; every session of the account ends (log in again with the new one)."""
    check_password(password)
    values = {"password_hash": _HASHER.hash(password), "password_changed_at": now}
    return _change(engine, name, values, end_sessions=True)


def set_role(engine: Engine, name: str, role: Role) -> Account:
    """Takes effect on the next request: sessions read the role from the account."""
    return _change(engine, name, {"role": Role(role).value}, end_sessions=False)


def set_disabled(engine: Engine, name: str, disabled: bool) -> Account:
    """A disabled account cannot log in, and its sessions end."""
    return _change(engine, name, {"disabled": disabled}, end_sessions=disabled)


# Sessions ------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    engine: Engine, account: Account, *, now: datetime, minutes: int, client: str
) -> str:
    """A new session for `account` (BOOTSTRAP for the token); returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    row = {
        "token_hash": _token_hash(token),
        "account_id": None if account is BOOTSTRAP else account.id,
        "csrf_token": secrets.token_urlsafe(32),
        "created_at": now,
        "expires_at": now + timedelta(minutes=minutes),
        "client": client[:64],
    }
    with write_transaction(engine) as connection:
        # Ended sessions are cleared as new ones open: the table holds only live ones for long.
        connection.execute(delete(editor_sessions).where(editor_sessions.c.expires_at <= now))
        connection.execute(insert(editor_sessions).values(row))
    return token


def session_for(engine: Engine, token: str, now: datetime) -> Session | None:
    """The live session of a cookie's token: not ended, not expired, its account enabled (one
    query). A bootstrap session lasts only while no admin account exists."""
    sessions, people = editor_sessions.c, editor_accounts
    query = (
        select(
            sessions.csrf_token,
            sessions.expires_at,
            sessions.flash,
            sessions.account_id,
            people,
        )
        .select_from(editor_sessions.outerjoin(people, people.c.id == sessions.account_id))
        .where(sessions.token_hash == _token_hash(token), sessions.expires_at > now)
    )
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    if row is None:
        return None
    if row.account_id is None:
        if has_admin(engine):
            return None
        return Session(BOOTSTRAP, row.csrf_token, row.expires_at, BOOTSTRAP_ACTOR, row.flash)
    if row.disabled:
        return None
    account = _account(row)
    return Session(account, row.csrf_token, row.expires_at, account.actor, row.flash)


def set_flash(engine: Engine, token: str, message: str | None) -> None:
    """What the session's next page says (None: nothing)."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(editor_sessions)
            .where(editor_sessions.c.token_hash == _token_hash(token))
            .values(flash=message)
        )


def end_session(engine: Engine, token: str) -> None:
    with write_transaction(engine) as connection:
        connection.execute(
            delete(editor_sessions).where(editor_sessions.c.token_hash == _token_hash(token))
        )


def end_sessions(engine: Engine, name: str) -> int:
    """End every session of the account; how many there were."""
    account = account_named(engine, name)
    if account is None:
        raise AccountError(f"no account is named {clean_name(name)!r}")
    with write_transaction(engine) as connection:
        result = connection.execute(
            delete(editor_sessions)
            .where(editor_sessions.c.account_id == account.id)
            .returning(editor_sessions.c.token_hash)
        )
        return len(result.all())


def live_sessions(engine: Engine, now: datetime) -> dict[int, int]:
    """How many live sessions each account has (by account id; 0 for the bootstrap token)."""
    sessions = editor_sessions.c
    query = (
        select(sessions.account_id, func.count())
        .where(sessions.expires_at > now)
        .group_by(sessions.account_id)
    )
    with engine.connect() as connection:
        return {account_id or 0: count for account_id, count in connection.execute(query)}
