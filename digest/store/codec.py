"""Models ⇄ JSON-safe dicts, for the stored digest snapshots and subscriber preferences.

Datetimes become ISO 8601 strings with their offset, tuples become lists and enums their values;
reading back gives models equal to the ones written. Same input, same dict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from digest.models import (
    AmwRead,
    Company,
    Connection,
    Digest,
    DigestKind,
    EmailFormat,
    Entry,
    NewsItem,
    Preferences,
    ReadRef,
    Section,
)

# Bumped when the shape of a stored digest changes, so that old snapshots are recognised.
DIGEST_FORMAT = 1

JsonDict = dict[str, Any]


def datetime_to_str(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: a time zone is required")
    return value.isoformat()


def datetime_from_str(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"datetime {value!r} has no offset")
    return parsed


def company_to_dict(company: Company) -> JsonDict:
    return {
        "slug": company.slug,
        "name": company.name,
        "sector": company.sector,
        "country": company.country,
        "hashtag": company.hashtag,
        "profile_url": company.profile_url,
    }


def company_from_dict(data: Mapping[str, Any]) -> Company:
    return Company(
        slug=data["slug"],
        name=data["name"],
        sector=data["sector"],
        country=data["country"],
        hashtag=data["hashtag"],
        profile_url=data.get("profile_url"),
    )


def item_to_dict(item: NewsItem) -> JsonDict:
    return {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "url": item.url,
        "published_at": datetime_to_str(item.published_at),
        "companies": list(item.companies),
        "category": item.category,
        "topics": list(item.topics),
        "countries": list(item.countries),
        "region": item.region,
        "hashtags": list(item.hashtags),
        "image_url": item.image_url,
        "read_minutes": item.read_minutes,
        "source": item.source,
        "page_url": item.page_url,
    }


def item_from_dict(data: Mapping[str, Any]) -> NewsItem:
    return NewsItem(
        id=data["id"],
        title=data["title"],
        summary=data["summary"],
        url=data["url"],
        published_at=datetime_from_str(data["published_at"]),
        companies=tuple(data["companies"]),
        category=data["category"],
        topics=tuple(data.get("topics", ())),
        countries=tuple(data.get("countries", ())),
        region=data.get("region"),
        hashtags=tuple(data.get("hashtags", ())),
        image_url=data.get("image_url"),
        read_minutes=data.get("read_minutes", 1),
        source=data.get("source"),
        page_url=data.get("page_url"),
    )


def refs_to_list(refs: tuple[ReadRef, ...]) -> list[JsonDict]:
    return [{"ref": ref.ref, "label": ref.label} for ref in refs]


def refs_from_list(data: list[Mapping[str, Any]]) -> tuple[ReadRef, ...]:
    return tuple(ReadRef(ref=entry["ref"], label=entry.get("label")) for entry in data)


def read_to_dict(read: AmwRead) -> JsonDict:
    return {
        "item_id": read.item_id,
        "text": read.text,
        "novelty": read.novelty,
        "significance": read.significance,
        "refs": refs_to_list(read.refs),
        "social": read.social,
    }


def read_from_dict(data: Mapping[str, Any]) -> AmwRead:
    return AmwRead(
        item_id=data["item_id"],
        text=data["text"],
        novelty=data["novelty"],
        significance=data["significance"],
        refs=refs_from_list(data.get("refs", [])),
        social=data.get("social"),
    )


def connection_to_dict(connection: Connection) -> JsonDict:
    return {
        "item": item_to_dict(connection.item),
        "age": connection.age,
        "basis": connection.basis,
        "company_names": list(connection.company_names),
        "is_entry": connection.is_entry,
    }


def connection_from_dict(data: Mapping[str, Any]) -> Connection:
    return Connection(
        item=item_from_dict(data["item"]),
        age=data["age"],
        basis=data["basis"],
        company_names=tuple(data.get("company_names", ())),
        is_entry=bool(data.get("is_entry", False)),
    )


def entry_to_dict(entry: Entry) -> JsonDict:
    data: JsonDict = {
        "item": item_to_dict(entry.item),
        "read": read_to_dict(entry.read) if entry.read is not None else None,
        "companies": [company_to_dict(company) for company in entry.companies],
        "connections": [connection_to_dict(connection) for connection in entry.connections],
    }
    if entry.followed:  # a subscriber's variant only: stored digests never have it
        data["followed"] = list(entry.followed)
    return data


def entry_from_dict(data: Mapping[str, Any]) -> Entry:
    read = data.get("read")
    return Entry(
        item=item_from_dict(data["item"]),
        read=read_from_dict(read) if read is not None else None,
        companies=tuple(company_from_dict(company) for company in data["companies"]),
        connections=tuple(connection_from_dict(c) for c in data.get("connections", ())),
        followed=tuple(data.get("followed", ())),
    )


def section_to_dict(section: Section) -> JsonDict:
    return {"title": section.title, "entries": [entry_to_dict(e) for e in section.entries]}


def section_from_dict(data: Mapping[str, Any]) -> Section:
    return Section(title=data["title"], entries=tuple(entry_from_dict(e) for e in data["entries"]))


def digest_to_dict(digest: Digest) -> JsonDict:
    """The whole composed digest as a JSON-safe dict (the stored snapshot)."""
    data: JsonDict = {
        "format": DIGEST_FORMAT,
        "kind": digest.kind.value,
        "key": digest.key,
        "title": digest.title,
        "window_start": datetime_to_str(digest.window_start),
        "window_end": datetime_to_str(digest.window_end),
        "generated_at": datetime_to_str(digest.generated_at),
        "company": company_to_dict(digest.company) if digest.company is not None else None,
        "sections": [section_to_dict(section) for section in digest.sections],
        "note": digest.note,
        "subject": digest.subject,
        "preheader": digest.preheader,
    }
    if digest.company_entries:  # absent when empty: the hash of a snapshot stored before holds
        data["company_entries"] = [entry_to_dict(entry) for entry in digest.company_entries]
    return data


def digest_from_dict(data: Mapping[str, Any]) -> Digest:
    """The digest that `digest_to_dict` was given."""
    version = data.get("format", DIGEST_FORMAT)
    if version != DIGEST_FORMAT:
        raise ValueError(f"stored digest format {version!r}, this version reads {DIGEST_FORMAT}")
    company = data.get("company")
    return Digest(
        kind=DigestKind(data["kind"]),
        key=data["key"],
        title=data["title"],
        window_start=datetime_from_str(data["window_start"]),
        window_end=datetime_from_str(data["window_end"]),
        sections=tuple(section_from_dict(section) for section in data["sections"]),
        generated_at=datetime_from_str(data["generated_at"]),
        company=company_from_dict(company) if company is not None else None,
        note=data.get("note", ""),
        subject=data.get("subject"),
        preheader=data.get("preheader"),
        company_entries=tuple(entry_from_dict(e) for e in data.get("company_entries", ())),
    )


def content_hash(digest: Digest) -> str:
    """The SHA-256 of the digest's whole content, as stored: what an approval covers."""
    canonical = json.dumps(
        digest_to_dict(digest), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def preferences_to_dict(preferences: Preferences) -> JsonDict:
    return {
        "weekly": preferences.weekly,
        "companies": list(preferences.companies),
        "topics": list(preferences.topics),
        "send_hour": preferences.send_hour,
        "format": preferences.format,
    }


def preferences_from_dict(data: Mapping[str, Any]) -> Preferences:
    """Missing keys take the defaults of `Preferences`, so older rows still read."""
    defaults = Preferences()
    email_format = data.get("format", defaults.format)
    if email_format not in ("html", "text"):
        raise ValueError(f"preferences format {email_format!r}: expected 'html' or 'text'")
    return Preferences(
        weekly=bool(data.get("weekly", defaults.weekly)),
        companies=tuple(data.get("companies", defaults.companies)),
        topics=tuple(data.get("topics", defaults.topics)),
        send_hour=_hour(data.get("send_hour", defaults.send_hour)),
        format=cast(EmailFormat, email_format),
    )


def _hour(value: Any) -> int | None:
    return None if value is None else int(value)
