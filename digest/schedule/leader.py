"""One scheduler at a time: the daemon that runs jobs is the one holding the database's lock.

On PostgreSQL the lock is a session-level advisory lock, held by a connection kept open for the
purpose: the server lets it go the moment that session ends, however its process died (a
SIGKILL closes the socket), and a standing-by daemon, trying every few seconds, takes over. The
leader checks its session as often; a leader that lost it stops running jobs at once, since
another may have taken over. On SQLite (one machine, a file) a lock on a file beside the
database, which the kernel releases with the process: a second daemon refuses to start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from digest.errors import DigestError

log = logging.getLogger("digest")

# pg_try_advisory_lock(int, int): a fixed first key for "digest schedule", the second the
# schema's hash, so that two stores in one database (one schema each) do not share a leader.
_LOCK_CLASS = 0x6469  # "di"
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:class, hashtext(current_schema()))")
STANDBY_SECONDS = 5.0  # how often a standing-by daemon tries, and a leader checks its session


class AlreadyScheduling(DigestError):
    """Another `digest schedule` runs jobs on this SQLite database."""

    exit_code = 2


class PostgresLeadership:
    """The advisory lock, on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def try_lead(self) -> bool:
        """Take the lock if no other session holds it; True when this process leads."""
        if self._connection is None:
            self._connection = self.engine.connect()
        try:
            taken = bool(self._connection.scalar(_TRY_LOCK, {"class": _LOCK_CLASS}))
            self._connection.commit()  # the lock is the session's: no transaction left open
        except DBAPIError:
            self.release()
            raise
        return taken

    def still_leading(self) -> bool:
        """The session that holds the lock is alive (a lost session lost the lock with it)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except DBAPIError:
            self.release()
            return False
        return True

    def release(self) -> None:
        # Closing the session lets the lock go; the connection is not put back in the pool.
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.invalidate()
            finally:
                connection.close()


class SqliteLeadership:
    """A lock on `DATABASE.scheduler-lock`, held by the process for as long as it lives."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".scheduler-lock")
        self._file: IO[str] | None = None

    def take(self) -> None:
        """Lead, or raise AlreadyScheduling naming the process that does."""
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyScheduling(
                f"another `digest schedule` is running on this database (process {holder}, "
                f"lock {self.path}): stop it before starting this one. One scheduler runs the "
                "jobs of a SQLite store; to keep a second one ready to take over, use PostgreSQL"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file lets the lock go
            self._file = None


def lead(
    engine: Engine,
    stop: threading.Event,
    run: Callable[[threading.Event], None],
    *,
    interval: float = STANDBY_SECONDS,
) -> None:
    """Run `run(stop_leading)` while this process holds the lock, until `stop` is set; stand
    by while another holds it. `run` must return once `stop_leading` is set."""
    if engine.dialect.name != "postgresql":
        database = engine.url.database
        if not database or database == ":memory:":
            run(stop)  # a database no other process can open
            return
        sqlite = SqliteLeadership(Path(database))
        sqlite.take()
        try:
            run(stop)
        finally:
            sqlite.release()
        return
    postgres = PostgresLeadership(engine)
    said_standby = False
    try:
        while not stop.is_set():
            if not postgres.try_lead():
                if not said_standby:
                    log.info("another `digest schedule` runs the jobs; standing by to take over")
                    said_standby = True
                stop.wait(interval)
                continue
            log.info("this scheduler runs the jobs (it holds the database's scheduler lock)")
            said_standby = False
            leading = threading.Event()  # set: stop leading (asked to stop, or lock lost)
            watcher = threading.Thread(
                target=_watch, args=(postgres, stop, leading, interval), daemon=True
            )
            watcher.start()
            try:
                run(leading)
            finally:
                leading.set()
                watcher.join()
    finally:
        postgres.release()


def _watch(
    postgres: PostgresLeadership, stop: threading.Event, leading: threading.Event, interval: float
) -> None:
    """End the leadership when asked to stop, or when the lock's session is lost."""
    while not stop.wait(interval) and not leading.is_set():
        if not postgres.still_leading():
            log.warning("lost the database's scheduler lock; stopping jobs, standing by")
            break
    leading.set()
