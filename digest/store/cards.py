"""The share cards of stored digests (render/cards.py draws them): PNG bytes per entry and size.

A card is written once, when a digest's posts are planned or when the web app is first asked for
it, and never changed: the digest it shows is a fixed snapshot. Kept in the database rather than
in files so that every worker (uploading it) and every web server (serving it) reads the same
bytes, on whichever machine each runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from digest.store import schema
from digest.store.engine import dialect_insert, write_transaction


@dataclass(frozen=True, slots=True)
class StoredCard:
    png: bytes
    alt: str


def share_card(engine: Engine, digest_key: str, position: int, size: str) -> StoredCard | None:
    table = schema.share_cards
    query = select(table.c.png, table.c.alt).where(
        table.c.digest_key == digest_key, table.c.position == position, table.c.size == size
    )
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    return StoredCard(bytes(row.png), row.alt) if row is not None else None


def share_card_positions(engine: Engine, digest_key: str, size: str) -> set[int]:
    """The positions of the digest's entries whose card of this size is stored."""
    table = schema.share_cards
    query = select(table.c.position).where(table.c.digest_key == digest_key, table.c.size == size)
    with engine.connect() as connection:
        return set(connection.scalars(query))


def save_share_card(
    engine: Engine,
    digest_key: str,
    position: int,
    size: str,
    card: StoredCard,
    *,
    now: datetime,
) -> None:
    """Store a card unless one is there already (two workers may draw the same card at once:
    both drew the same bytes, the first to write wins)."""
    values = {
        "digest_key": digest_key,
        "position": position,
        "size": size,
        "png": card.png,
        "alt": card.alt,
        "created_at": now,
    }
    statement = dialect_insert(engine, schema.share_cards).values(values).on_conflict_do_nothing()
    with write_transaction(engine) as connection:
        connection.execute(statement)
