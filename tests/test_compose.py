"""Compose: windows, ranking, grouping, connections and ages: pure, deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.compose import (
    IsoWeek,
    compose_company_digest,
    compose_company_digests,
    compose_weekly_digest,
    rank_items,
    relative_age,
    weekly_variant,
)
from digest.models import AmwRead, Company, NewsItem

PARIS = ZoneInfo("Europe/Paris")
WEEK = IsoWeek(2026, 48)  # Monday 23 November – Sunday 29 November 2026

COMPANIES = {
    "mistral-ai": Company("mistral-ai", "Mistral AI", "Foundation Models", "FR", "MistralAI"),
    "deepseek": Company("deepseek", "DeepSeek", "Foundation Models / LLMs", "CN", "DeepSeek"),
    "nvidia": Company("nvidia", "NVIDIA", "Chips & Hardware", "US", "Nvidia"),
}


def item(
    item_id: str,
    when: datetime,
    companies: tuple[str, ...] = ("mistral-ai",),
    topics: tuple[str, ...] = ("Compute Economics",),
) -> NewsItem:
    return NewsItem(
        id=item_id,
        title=f"Title of {item_id}",
        summary="Summary.",
        url=f"https://example.com/news/{item_id}",
        published_at=when,
        companies=companies,
        category="Product",
        topics=topics,
    )


def read(item_id: str, novelty: int, significance: int) -> AmwRead:
    return AmwRead(item_id=item_id, text="Read.", novelty=novelty, significance=significance)


def paris(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=PARIS)


def test_week_window_is_monday_to_monday_in_the_site_zone() -> None:
    start, end = WEEK.window(PARIS)
    assert start == datetime(2026, 11, 23, tzinfo=PARIS)
    assert end == datetime(2026, 11, 30, tzinfo=PARIS)
    assert start.utcoffset() == timedelta(hours=1)


def test_week_containing_uses_the_zone_not_utc() -> None:
    # Sunday 22:30 UTC is already Monday in Paris.
    moment = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert IsoWeek.containing(moment, PARIS) == WEEK
    assert IsoWeek.containing(moment, ZoneInfo("UTC")) == IsoWeek(2026, 47)


def test_week_parse_round_trips_and_rejects_nonsense() -> None:
    assert IsoWeek.parse("2026-W48") == WEEK
    assert str(WEEK) == "2026-W48"
    assert IsoWeek.parse("2027-W01").previous() == IsoWeek(2026, 53)
    for bad in ("2026-48", "2026-W54", "week 48"):
        with pytest.raises(ValueError):
            IsoWeek.parse(bad)


def test_ranking_is_significance_then_novelty_then_recency() -> None:
    items = [
        item("old-high", paris(23)),
        item("new-high", paris(26)),
        item("novel", paris(24)),
        item("unrated", paris(27)),
        item("low", paris(28)),
    ]
    reads = {
        "old-high": read("old-high", 3, 5),
        "new-high": read("new-high", 3, 5),
        "novel": read("novel", 5, 4),
        "low": read("low", 5, 1),
    }
    ranked = [i.id for i in rank_items(items, reads)]
    assert ranked == ["new-high", "old-high", "novel", "low", "unrated"]


def test_weekly_digest_keeps_the_window_top_n_and_groups_by_main_topic() -> None:
    items = [
        item("before", paris(22, 23)),  # Sunday of the week before
        item("chips", paris(24), topics=("Chips & Hardware", "Compute Economics")),
        item("compute-a", paris(25)),
        item("compute-b", paris(26)),
        item("geo", paris(27), topics=("Geopolitics",)),
        item("after", datetime(2026, 11, 30, 0, 0, tzinfo=PARIS)),  # next Monday 00:00
    ]
    reads = {
        "before": read("before", 5, 5),
        "chips": read("chips", 2, 5),
        "compute-a": read("compute-a", 4, 4),
        "compute-b": read("compute-b", 1, 2),
        "geo": read("geo", 3, 3),
        "after": read("after", 5, 5),
    }
    digest = compose_weekly_digest(WEEK, PARIS, items, reads, COMPANIES, top=3)
    assert digest.key == "weekly:2026-W48"
    assert [(s.title, [e.item.id for e in s.entries]) for s in digest.sections] == [
        ("Chips & Hardware", ["chips"]),
        ("Compute Economics", ["compute-a"]),
        ("Geopolitics", ["geo"]),
    ]
    assert digest.entries[0].read == reads["chips"]
    assert digest.entries[0].companies == (COMPANIES["mistral-ai"],)
    assert digest.generated_at == datetime(2026, 11, 30, tzinfo=PARIS)


def test_the_same_input_gives_the_same_digest() -> None:
    items = [item(f"i{n}", paris(23 + n % 6, n % 20)) for n in range(30)]
    reads = {i.id: read(i.id, 1 + n % 5, 1 + (n * 7) % 5) for n, i in enumerate(items)}
    first = compose_weekly_digest(WEEK, PARIS, items, reads, COMPANIES, top=10)
    again = compose_weekly_digest(WEEK, PARIS, list(reversed(items)), reads, COMPANIES, top=10)
    assert first == again


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(hours=5), "today"),
        (timedelta(days=1), "1d ago"),
        (timedelta(days=6, hours=23), "6d ago"),
        (timedelta(days=7), "1w ago"),
        (timedelta(days=20), "2w ago"),
        (timedelta(days=45), "1mo ago"),
        (timedelta(days=100), "3mo ago"),
        (timedelta(days=400), "1y ago"),
    ],
)
def test_relative_age(delta: timedelta, expected: str) -> None:
    now = paris(30, 0)
    assert relative_age(now - delta, now) == expected


def test_company_digest_connects_earlier_items_by_company_or_topic() -> None:
    items = [
        item("sweden", paris(26), topics=("Foundation Models · Case Studies", "Geopolitics")),
        item("mistral-old", paris(10), topics=("Open Models",)),
        item(
            "deepseek-same-topic",
            paris(25),
            companies=("deepseek",),
            topics=("Foundation Models · Case Studies",),
        ),
        item("nvidia-unrelated", paris(24), companies=("nvidia",), topics=("Chips & Hardware",)),
        item("deepseek-later", paris(27), companies=("deepseek",)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items}
    digest = compose_company_digest(
        COMPANIES["mistral-ai"], WEEK, PARIS, items, reads, COMPANIES, connections=5
    )
    assert digest is not None
    assert digest.key == "company:mistral-ai:2026-W48"
    assert digest.company == COMPANIES["mistral-ai"]
    sweden = next(e for e in digest.entries if e.item.id == "sweden")
    assert [(c.item.id, c.age, c.basis) for c in sweden.connections] == [
        ("deepseek-same-topic", "4d ago", "Foundation Models · Case Studies"),
        ("mistral-old", "2w ago", "Mistral AI"),
    ]
    assert sweden.connections[0].company_names == ("DeepSeek",)


def test_company_digests_only_for_companies_with_news_in_the_window() -> None:
    items = [
        item("a", paris(24), companies=("deepseek", "nvidia")),
        item("old", paris(2), companies=("mistral-ai",)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items}
    digests = list(compose_company_digests(WEEK, PARIS, items, reads, COMPANIES, connections=3))
    assert [d.key for d in digests] == ["company:deepseek:2026-W48", "company:nvidia:2026-W48"]


def test_weekly_variant_keeps_only_the_chosen_topics() -> None:
    items = [
        item("chips", paris(24), topics=("Chips & Hardware",)),
        item("both", paris(25), topics=("Compute Economics", "Geopolitics")),
        item("compute", paris(26)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items}
    digest = compose_weekly_digest(WEEK, PARIS, items, reads, COMPANIES, top=10)
    assert weekly_variant(digest, ()) is digest
    variant = weekly_variant(digest, ("Geopolitics",))
    assert [e.item.id for e in variant.entries] == ["both"]
    assert weekly_variant(digest, ("Safety & Policy",)).entries == ()
