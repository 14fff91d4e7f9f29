"""Digest snapshots: the codec round trip, and save-once semantics in the store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from digest.models import (
    AmwRead,
    Company,
    Connection,
    Digest,
    DigestKind,
    Entry,
    NewsItem,
    Preferences,
    ReadRef,
    Section,
)
from digest.store import (
    Store,
    digest_from_dict,
    digest_to_dict,
    preferences_from_dict,
    preferences_to_dict,
)

PARIS = ZoneInfo("Europe/Paris")
MISTRAL = Company("mistral-ai", "Mistral AI", "Foundation Models / LLMs", "FR", "MistralAI",
                  "https://example.com/companies/mistral-ai")  # fmt: skip
NVIDIA = Company("nvidia", "NVIDIA", "Chips", "US", "NVIDIA")


def news(item_id: str, published_at: datetime, *companies: str) -> NewsItem:
    return NewsItem(
        id=item_id,
        title=f"Title {item_id} — “quoted” & <escaped>",
        summary="Mistral opens a data centre 🇫🇷",
        url=f"https://example.com/news/{item_id}",
        published_at=published_at,
        companies=companies,
        category="Expansion",
        topics=("Foundation Models · Case Studies", "Geopolitics"),
        countries=("FR",),
        region="EU",
        hashtags=("MistralAI",),
        image_url="https://example.com/i.png",
        read_minutes=4,
        source="AMW",
    )


def sample_digest(key: str = "company:mistral-ai:2026-W48", title: str = "Mistral AI") -> Digest:
    earlier = news("old", datetime(2026, 11, 20, 9, 0, tzinfo=PARIS), "mistral-ai")
    main = news("new", datetime(2026, 11, 24, 8, 30, tzinfo=UTC), "mistral-ai", "nvidia")
    read = AmwRead("new", "A read.", 4, 5, (ReadRef("segment 01 case study"), ReadRef("cross.§A",
                   "infrastructure")))  # fmt: skip
    plain = replace(news("plain", datetime(2026, 11, 25, tzinfo=UTC), "nvidia"), region=None,
                    image_url=None, source=None, topics=(), countries=(), hashtags=())  # fmt: skip
    return Digest(
        kind=DigestKind.COMPANY,
        key=key,
        title=title,
        window_start=datetime(2026, 11, 23, tzinfo=timezone(timedelta(hours=1))),
        window_end=datetime(2026, 11, 30, tzinfo=UTC),
        sections=(
            Section(
                "Expansion",
                (
                    Entry(
                        item=main,
                        read=read,
                        companies=(MISTRAL, NVIDIA),
                        connections=(Connection(earlier, "4d ago", "Mistral AI", ("Mistral AI",)),),
                    ),
                ),
            ),
            Section("Chips", (Entry(item=plain, read=None, companies=(NVIDIA,)),)),
            Section("Empty", ()),
        ),
        generated_at=datetime(2026, 11, 30, 7, 0, tzinfo=UTC),
        company=MISTRAL,
    )


def test_codec_round_trip_is_exact_and_json_safe() -> None:
    digest = sample_digest()
    data = digest_to_dict(digest)
    text = json.dumps(data, ensure_ascii=False)
    back = digest_from_dict(json.loads(text))
    assert back == digest
    assert digest_to_dict(back) == data
    assert digest_to_dict(sample_digest()) == data  # deterministic
    assert data["kind"] == "company"
    assert data["window_start"] == "2026-11-23T00:00:00+01:00"
    assert back.sections[0].entries[0].connections[0].item.published_at.utcoffset() == timedelta(
        hours=1
    )


def test_codec_weekly_digest_without_company() -> None:
    digest = replace(sample_digest("weekly:2026-W48", "Week 48"), kind=DigestKind.WEEKLY,
                     company=None)  # fmt: skip
    assert digest_from_dict(digest_to_dict(digest)) == digest


def test_codec_refuses_naive_datetimes() -> None:
    digest = replace(sample_digest(), generated_at=datetime(2026, 11, 30))
    with pytest.raises(ValueError, match="time zone"):
        digest_to_dict(digest)


def test_codec_refuses_an_unknown_format() -> None:
    data = digest_to_dict(sample_digest())
    with pytest.raises(ValueError, match="format"):
        digest_from_dict({**data, "format": 99})


def test_preferences_round_trip_and_defaults() -> None:
    preferences = Preferences(weekly=False, companies=("a", "b"), topics=("t",), send_hour=20,
                              format="text")  # fmt: skip
    assert preferences_from_dict(preferences_to_dict(preferences)) == preferences
    assert preferences_from_dict({}) == Preferences()
    with pytest.raises(ValueError, match="format"):
        preferences_from_dict({"format": "pdf"})


def test_save_and_load_digest(store: Store) -> None:
    digest = sample_digest()
    assert store.load_digest(digest.key) is None
    assert store.save_digest(digest) is True
    assert store.load_digest(digest.key) == digest
    assert store.digest_keys() == [digest.key]


def test_saving_a_key_again_keeps_the_first(store: Store) -> None:
    first = sample_digest()
    assert store.save_digest(first)
    assert store.save_digest(replace(first, title="Recomposed", sections=())) is False
    assert store.load_digest(first.key) == first
    weekly = replace(sample_digest("weekly:2026-W48", "Week 48"), kind=DigestKind.WEEKLY,
                     company=None)  # fmt: skip
    assert store.save_digest(weekly)
    assert store.digest_keys() == ["company:mistral-ai:2026-W48", "weekly:2026-W48"]
