"""The tokens a social channel renews itself: X's OAuth 2 access token lasts two hours, and each
refresh answers a new refresh token in place of the one spent. The newest pair is stored so the
next run, and every other worker, starts from it rather than from the spent one in settings.

A pair is stored with the fingerprint of the refresh token in settings.yaml it descends from:
when an operator authorises the app again and puts the new token there, the stored pair no longer
matches and is ignored."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from digest.store import schema
from digest.store.engine import dialect_insert, write_transaction


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StoredTokens:
    """Each channel's newest pair in the store (what `SocialAdapter.tokens` reads and writes)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def load(self, channel: str, origin: str) -> TokenPair | None:
        """The channel's pair, if one was stored from the refresh token `origin` descends from."""
        table = schema.channel_tokens
        query = select(table.c.access_token, table.c.refresh_token).where(
            table.c.channel == channel, table.c.origin == fingerprint(origin)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        return TokenPair(row.access_token, row.refresh_token) if row else None

    def save(self, channel: str, origin: str, pair: TokenPair) -> None:
        table = schema.channel_tokens
        values = {
            "origin": fingerprint(origin),
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "renewed_at": self.clock(),
        }
        statement = (
            dialect_insert(self.engine, table)
            .values(channel=channel, **values)
            .on_conflict_do_update(index_elements=[table.c.channel], set_=values)
        )
        with write_transaction(self.engine) as connection:
            connection.execute(statement)
