"""Rate-limit counters in the store, so that every process of a deployment shares them.

A storage backend for the `limits` library: its fixed-window strategy counts hits per key in
this table, each window lasting from its first hit until `expires_at`. One atomic upsert per hit
(INSERT … ON CONFLICT DO UPDATE … RETURNING, on SQLite and PostgreSQL alike), timed by the
application's clock, never the database's: a test with a moved clock sees windows end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from limits.storage import Storage
from sqlalchemy import Engine, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from digest.store.schema import rate_limits

Clock = Callable[[], datetime]


class DatabaseStorage(Storage):
    """`limits` storage on the store's engine (fixed windows only)."""

    STORAGE_SCHEME: ClassVar[list[str] | None] = ["digest-database"]

    def __init__(self, engine: Engine, clock: Clock) -> None:
        super().__init__()
        self.engine = engine
        self.clock = clock

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return DBAPIError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(rate_limits).values(
            key=key, count=amount, expires_at=now + timedelta(seconds=expiry)
        )
        ended = rate_limits.c.expires_at <= now
        statement = insert.on_conflict_do_update(
            index_elements=[rate_limits.c.key],
            set_={
                "count": case((ended, amount), else_=rate_limits.c.count + amount),
                "expires_at": case(
                    (ended, insert.excluded.expires_at), else_=rate_limits.c.expires_at
                ),
            },
        ).returning(rate_limits.c.count)
        with self.engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def get(self, key: str) -> int:
        query = select(rate_limits.c.count).where(
            rate_limits.c.key == key, rate_limits.c.expires_at > self.clock()
        )
        with self.engine.connect() as connection:
            return int(connection.scalar(query) or 0)

    def get_expiry(self, key: str) -> float:
        query = select(rate_limits.c.expires_at).where(rate_limits.c.key == key)
        with self.engine.connect() as connection:
            expires = connection.scalar(query)
        return (expires or self.clock()).timestamp()

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except DBAPIError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(rate_limits)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(rate_limits).where(rate_limits.c.key == key))

    def purge_ended(self) -> int:
        """Delete the windows that ended; how many (the scheduler calls it now and then)."""
        with self.engine.begin() as connection:
            ended = rate_limits.c.expires_at <= self.clock()
            return connection.execute(delete(rate_limits).where(ended)).rowcount
