"""Engines for the store: URL checks, SQLite settings, and errors that mask passwords."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from digest.errors import ConfigError, Problem, ServiceError

# Execution option read by the SQLite "begin" hook: which kind of BEGIN to emit.
SQLITE_BEGIN = "digest_sqlite_begin"


def create_engine_for(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL; ConfigError (password masked) for any other."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise _bad_url(mask_text(url), "not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise _bad_url(mask(parsed), f"{backend!r} is not supported: use sqlite or postgresql")
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and "connect_timeout" not in parsed.query:
        # Without it, a host that drops packets hangs the command for minutes.
        connect_args["connect_timeout"] = 10
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as exc:
        raise _bad_url(mask(parsed), f"no driver: {exc}") from exc
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed at the end of the block.

    On SQLite the transaction takes the write lock at once (BEGIN IMMEDIATE): a transaction
    that reads and then writes could otherwise fail when another writer got in between,
    instead of waiting its turn.
    """
    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with connection.begin():
            yield connection


def dialect_insert(engine: Engine, table: Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (both spell it the same way)."""
    if engine.dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The sqlite3 module would BEGIN only before DML, so reads and DDL would escape the
        # transaction; SQLAlchemy's "begin" hook below emits BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 30000")  # wait for other writers, up to 30s
            _use_wal(cursor)  # readers do not block the writer
            # In WAL mode NORMAL syncs at checkpoints, not at every commit (3 ms here, 50 µs
            # without): a commit survives any crash of the program; only a power cut or an OS
            # crash may lose the last ones (an outbox answer lost so is sent again).
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _use_wal(cursor: Any) -> None:
    """WAL mode, which the file keeps once set. Setting it needs the file to itself and does not
    wait through the busy handler: connections opening a new database together retry."""
    (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
    if mode in ("wal", "memory"):
        return
    for _ in range(_WAL_TRIES):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA journal_mode = WAL")


_WAL_TRIES = 600  # 30 s, as the busy timeout


def mask(url: URL) -> str:
    """The URL as text, its password shown as ***."""
    return url.render_as_string(hide_password=True)


def mask_text(url: str) -> str:
    """Mask the password of a URL that did not even parse, as a last resort."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def first_line(error: object) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _bad_url(masked: str, message: str) -> ConfigError:
    return ConfigError(
        [Problem(where="", record="", field="database.url", message=f"{masked}: {message}")]
    )


def unreachable(url: URL, exc: DBAPIError) -> ServiceError:
    """The error for a database that cannot be reached: what failed, and what to check."""
    reason = first_line(exc.orig)
    if url.password:
        reason = reason.replace(str(url.password), "***")
    if url.get_backend_name() == "sqlite":
        hint = (
            "check that its folder exists and is writable, that the file is a SQLite database, "
            "and that no other program holds it locked"
        )
        return ServiceError(f"could not open the SQLite database {mask(url)}: {reason}; {hint}")
    hint = (
        "check that the PostgreSQL server is running and accepts connections at that host and "
        "port, and that the database name, user and password are right"
    )
    return ServiceError(f"could not connect to the database {mask(url)}: {reason}; {hint}")
