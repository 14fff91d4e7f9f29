"""The active subscribers counted by profile (time zone and preferences), from
`subscriber_profiles`.

Triggers on `subscribers` keep the counts (migration 0017), so grouping a million subscribers
costs a few thousand rows; a count is the sum of its writers' rows.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Engine, delete, func, select, text

from digest.models import Subscriber
from digest.store import codec
from digest.store.schema import subscriber_profiles

# Every backend's rows of a profile into one row of writer 0, in one statement: a trigger that
# adds to a row deleted here meanwhile waits for this transaction, then inserts it anew.
_FOLD_POSTGRESQL = """
WITH gone AS (
    DELETE FROM subscriber_profiles WHERE writer <> 0
    RETURNING profile, timezone, preferences, subscribers
)
INSERT INTO subscriber_profiles AS p (profile, writer, timezone, preferences, subscribers)
SELECT profile, 0, timezone, preferences, sum(subscribers) FROM gone
GROUP BY profile, timezone, preferences
ON CONFLICT (profile, writer) DO UPDATE SET subscribers = p.subscribers + excluded.subscribers
"""


def active_profiles(engine: Engine) -> Iterator[tuple[Subscriber, int]]:
    """One stand-in subscriber of each profile (no id, address or name) and how many active
    subscribers it stands for."""
    columns = subscriber_profiles.c
    number = func.sum(columns.subscribers)
    query = (
        select(columns.timezone, columns.preferences, number)
        .group_by(columns.profile, columns.timezone, columns.preferences)
        .having(number > 0)
    )
    with engine.connect() as connection:
        for timezone, preferences, count in connection.execute(query):
            alike = Subscriber(
                id="",
                email="",
                name="",
                timezone=timezone,
                preferences=codec.preferences_from_dict(preferences),
            )
            yield alike, int(count)


def fold(connection: Connection) -> int:
    """Fold each PostgreSQL backend's share of the counts into one row a profile and drop the
    profiles nobody has any more; how many rows went. (Each backend that changes a subscriber
    adds rows of its own, which would pile up over the months.)"""
    count = select(func.count()).select_from(subscriber_profiles)
    before = connection.scalar(count) or 0
    if connection.dialect.name == "postgresql":
        connection.execute(text(_FOLD_POSTGRESQL))
    columns = subscriber_profiles.c
    connection.execute(
        delete(subscriber_profiles).where(columns.writer == 0, columns.subscribers == 0)
    )
    return int(before) - int(connection.scalar(count) or 0)
