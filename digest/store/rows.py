"""Table rows ⇄ domain models."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Text, cast, select

from digest.models import AmwRead, Company, NewsItem, Preferences, Subscriber, SubscriberStatus
from digest.store import codec
from digest.store.schema import item_companies, subscribers


def company_row(company: Company) -> dict[str, Any]:
    # A company's row has exactly the fields of its JSON form.
    return codec.company_to_dict(company)


def company_from_row(row: Row[Any]) -> Company:
    return codec.company_from_dict(row._mapping)


def item_row(item: NewsItem, now: datetime) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "url": item.url,
        "published_at": item.published_at,
        "category": item.category,
        "topics": list(item.topics),
        "countries": list(item.countries),
        "region": item.region,
        "hashtags": list(item.hashtags),
        "image_url": item.image_url,
        "read_minutes": item.read_minutes,
        "source": item.source,
        "updated_at": now,
        "page_url": item.page_url,
    }


def item_from_row(row: Row[Any], companies: tuple[str, ...]) -> NewsItem:
    return NewsItem(
        id=row.id,
        title=row.title,
        summary=row.summary,
        url=row.url,
        published_at=row.published_at,
        companies=companies,
        category=row.category,
        topics=tuple(row.topics),
        countries=tuple(row.countries),
        region=row.region,
        hashtags=tuple(row.hashtags),
        image_url=row.image_url,
        read_minutes=row.read_minutes,
        source=row.source,
        page_url=row.page_url,
    )


def items_from_rows(connection: Connection, rows: list[Row[Any]]) -> list[NewsItem]:
    """The items of `rows` (of the items table), each with its companies in their order."""
    slugs: dict[str, list[str]] = {}
    query = (
        select(item_companies.c.item_id, item_companies.c.company_slug)
        .where(item_companies.c.item_id.in_([row.id for row in rows]))
        .order_by(item_companies.c.item_id, item_companies.c.position)
    )
    for item_id, slug in connection.execute(query):
        slugs.setdefault(item_id, []).append(slug)
    return [item_from_row(row, tuple(slugs.get(row.id, ()))) for row in rows]


def read_row(read: AmwRead) -> dict[str, Any]:
    return {
        "item_id": read.item_id,
        "text": read.text,
        "novelty": read.novelty,
        "significance": read.significance,
        "refs": codec.refs_to_list(read.refs),
        "social": read.social,
    }


def read_from_row(row: Row[Any]) -> AmwRead:
    return AmwRead(
        item_id=row.item_id,
        text=row.text,
        novelty=row.novelty,
        significance=row.significance,
        refs=codec.refs_from_list(row.refs),
        social=row.social,
    )


def email_key(email: str) -> str:
    return email.lower()


def email_hash(email: str) -> str:
    """How the suppression list keeps an address: the SHA-256 of its lower-cased form."""
    return hashlib.sha256(email_key(email).encode()).hexdigest()


def subscriber_row(subscriber: Subscriber, now: datetime) -> dict[str, Any]:
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "email_key": email_key(subscriber.email),
        "name": subscriber.name,
        "given_name": subscriber.given_name,
        "family_name": subscriber.family_name,
        "status": SubscriberStatus(subscriber.status).value,
        "timezone": subscriber.timezone,
        "preferences": codec.preferences_to_dict(subscriber.preferences),
        "created_at": now,
        "updated_at": now,
    }


# What a `Subscriber` holds, the preferences as the stored JSON text: a send reads its
# subscribers 32 at a time, and most of them share a few preferences, parsed once each
# (decoding every row's JSON, and reading the times a Subscriber does not hold, was a third
# of the read).
SUBSCRIBER_COLUMNS = (
    *(
        subscribers.c[name]
        for name in ("id", "email", "name", "status", "timezone", "given_name", "family_name")
    ),
    cast(subscribers.c.preferences, Text).label("preferences"),
)


@functools.lru_cache(maxsize=4096)
def _preferences_of_text(text: str) -> Preferences:
    return codec.preferences_from_dict(json.loads(text))


def subscriber_from_row(row: Row[Any]) -> Subscriber:
    """A subscriber from a row of `subscribers`, or of `SUBSCRIBER_COLUMNS`."""
    preferences = row.preferences
    return Subscriber(
        id=row.id,
        email=row.email,
        name=row.name,
        status=SubscriberStatus(row.status),
        timezone=row.timezone,
        preferences=(
            _preferences_of_text(preferences)
            if isinstance(preferences, str)
            else codec.preferences_from_dict(preferences)
        ),
        given_name=row.given_name,
        family_name=row.family_name,
    )
