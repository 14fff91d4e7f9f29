"""Compose: windows, ranking, grouping, connections and ages: pure, deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.compose import (
    ChangeSet,
    IsoWeek,
    compose_company_digest,
    compose_company_digests,
    compose_weekly_digest,
    edit_digest,
    rank_items,
    relative_age,
    weekly_variant,
)
from digest.models import AmwRead, Company, Digest, Entry, NewsItem

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
    ("then", "expected"),
    [
        (datetime(2026, 11, 30, 1, tzinfo=PARIS), "today"),
        (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "today"),  # 00:30 on Monday in Paris
        (datetime(2026, 11, 29, 22, 30, tzinfo=UTC), "1d ago"),  # 23:30 on Sunday in Paris
        (datetime(2026, 11, 24, 23, tzinfo=PARIS), "6d ago"),
        (datetime(2026, 11, 23, 1, tzinfo=PARIS), "1w ago"),
        (datetime(2026, 11, 10, tzinfo=PARIS), "2w ago"),
        (datetime(2026, 10, 16, tzinfo=PARIS), "1mo ago"),
        (datetime(2026, 8, 22, tzinfo=PARIS), "3mo ago"),
        (datetime(2025, 10, 26, tzinfo=PARIS), "1y ago"),
    ],
)
def test_relative_age_counts_calendar_days_in_the_digests_zone(
    then: datetime, expected: str
) -> None:
    assert relative_age(then, paris(30, 12)) == expected


FOUNDATION = "Foundation Models · Case Studies"


def timelines(entry: Entry) -> list[tuple[str, str, str]]:
    """(basis, item id, age) of each line, "THIS" for the entry itself."""
    return [(c.basis, "THIS" if c.is_entry else c.item.id, c.age) for c in entry.connections]


def test_company_digest_timelines_follow_the_company_and_the_main_topic() -> None:
    items = [
        item("sweden", paris(26), topics=(FOUNDATION, "Geopolitics")),
        item("mistral-old", paris(10), topics=("Open Models",)),
        item("deepseek-same-topic", paris(25), companies=("deepseek",), topics=(FOUNDATION,)),
        item("deepseek-later", paris(28), companies=("deepseek",), topics=("Open", FOUNDATION)),
        item("nvidia-unrelated", paris(24), companies=("nvidia",), topics=("Chips & Hardware",)),
        item("deepseek-other-topic", paris(27), companies=("deepseek",)),
        item("next-week", paris(30, 9), companies=("deepseek",), topics=(FOUNDATION,)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items}
    digest = compose_company_digest(
        COMPANIES["mistral-ai"], WEEK, PARIS, items, reads, COMPANIES, connections=5
    )
    assert digest is not None
    assert digest.key == "company:mistral-ai:2026-W48"
    assert digest.company == COMPANIES["mistral-ai"]
    (sweden,) = digest.entries
    # The company's own story, then the topic's among other companies, each placing the entry
    # at its day: later news of the same week above it, as the site's page shows it.
    assert timelines(sweden) == [
        (FOUNDATION, "deepseek-later", "2d ago"),
        (FOUNDATION, "THIS", "4d ago"),
        (FOUNDATION, "deepseek-same-topic", "5d ago"),
        ("Mistral AI", "THIS", "4d ago"),
        ("Mistral AI", "mistral-old", "2w ago"),
    ]
    assert sweden.connections[0].company_names == ("DeepSeek",)
    assert sweden.connections[1].company_names == ()


def test_a_timeline_ranks_the_items_of_one_day_and_keeps_to_its_limit() -> None:
    items = [
        item("entry", paris(27), topics=(FOUNDATION,)),
        item("minor-evening", paris(25, 22), companies=("deepseek",), topics=(FOUNDATION,)),
        item("major-morning", paris(25, 3), companies=("deepseek",), topics=(FOUNDATION,)),
        item("older", paris(20), companies=("deepseek",), topics=(FOUNDATION,)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items}
    reads["major-morning"] = read("major-morning", 2, 5)
    digest = compose_company_digest(
        COMPANIES["mistral-ai"], WEEK, PARIS, items, reads, COMPANIES, connections=2
    )
    assert digest is not None
    assert [line[1] for line in timelines(digest.entries[0])] == [
        "THIS",
        "major-morning",
        "minor-evening",
    ]


def test_an_email_lists_none_of_its_own_entries_and_no_item_twice() -> None:
    chips = ("Chips & Hardware",)
    items = [
        item("megafactory", paris(23), companies=("nvidia",), topics=chips),
        item("lab", paris(29), companies=("deepseek", "nvidia"), topics=(FOUNDATION, *chips)),
        item("rubin", paris(18), companies=("nvidia",), topics=chips),
        item("v4", paris(19), companies=("deepseek",), topics=(FOUNDATION, *chips)),
        item("v4-price", paris(25), companies=("deepseek",), topics=(FOUNDATION,)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items}
    reads["megafactory"] = read("megafactory", 3, 5)
    digest = compose_company_digest(
        COMPANIES["nvidia"], WEEK, PARIS, items, reads, COMPANIES, connections=5
    )
    assert digest is not None
    first, second = digest.entries
    assert (first.item.id, second.item.id) == ("megafactory", "lab")
    assert timelines(first) == [
        ("Chips & Hardware", "THIS", "1w ago"),
        ("Chips & Hardware", "v4", "1w ago"),
        ("NVIDIA", "THIS", "1w ago"),
        ("NVIDIA", "rubin", "1w ago"),
    ]
    # Neither the first entry nor what the first entry listed comes back under the second.
    assert timelines(second) == [
        (FOUNDATION, "THIS", "1d ago"),
        (FOUNDATION, "v4-price", "5d ago"),
    ]


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


def _follow_week() -> list[NewsItem]:
    """Six items of the week, ranked a > b > … > f by significance; the top 3 go in the digest."""
    specs = [
        ("a", ("mistral-ai",), ("Compute Economics",)),
        ("b", ("deepseek",), ("Geopolitics",)),
        ("c", ("nvidia",), ("Safety & Policy",)),
        ("d", ("nvidia", "deepseek"), ("Chips & Hardware",)),
        ("e", ("mistral-ai",), ("Geopolitics",)),
        ("f", ("nvidia",), ("Geopolitics",)),
    ]
    return [item(i, paris(24), companies, topics) for i, companies, topics in specs]


def _followers_digest() -> tuple[list[NewsItem], Digest]:
    items = _follow_week()
    reads = {it.id: read(it.id, 3, 5 - index // 2) for index, it in enumerate(items)}
    return items, compose_weekly_digest(WEEK, PARIS, items, reads, COMPANIES, top=3)


def test_the_weekly_keeps_the_rest_of_the_weeks_company_news_for_followers() -> None:
    _, digest = _followers_digest()
    assert [e.item.id for e in digest.entries] == ["a", "b", "c"]
    assert [e.item.id for e in digest.company_entries] == ["d", "e", "f"]


def test_a_subscriber_gets_their_topics_and_every_item_about_the_companies_they_follow() -> None:
    _, digest = _followers_digest()
    variant = weekly_variant(digest, ("Safety & Policy",), ("nvidia",))
    marks = {e.item.id: e.followed for e in variant.entries}
    # c is in their topic; d and f are about NVIDIA, outside the top, ranked as usual.
    assert marks == {"c": (), "d": ("NVIDIA",), "f": ("NVIDIA",)}
    assert [(s.title, [e.item.id for e in s.entries]) for s in variant.sections] == [
        ("Safety & Policy", ["c"]),
        ("Chips & Hardware", ["d"]),
        ("Geopolitics", ["f"]),
    ]
    assert variant.company_entries == ()


def test_following_adds_top_items_outside_their_topics_where_they_are() -> None:
    _, digest = _followers_digest()
    variant = weekly_variant(digest, ("Compute Economics",), ("deepseek",))
    assert [(e.item.id, e.followed) for e in variant.entries] == [
        ("a", ()),
        ("b", ("DeepSeek",)),  # in the top, outside their topics: there because they follow it
        ("d", ("DeepSeek",)),
    ]


def test_with_every_topic_following_adds_only_what_the_top_left_out() -> None:
    _, digest = _followers_digest()
    variant = weekly_variant(digest, (), ("mistral-ai", "nvidia"))
    # Each joins its topic's section after the top's entries there, or opens one at the end.
    assert [(s.title, [(e.item.id, e.followed) for e in s.entries]) for s in variant.sections] == [
        ("Compute Economics", [("a", ())]),
        ("Geopolitics", [("b", ()), ("e", ("Mistral AI",)), ("f", ("NVIDIA",))]),
        ("Safety & Policy", [("c", ())]),
        ("Chips & Hardware", [("d", ("NVIDIA",))]),
    ]
    # Following nothing, choosing no topic: the digest as it is.
    assert weekly_variant(digest, (), ()) is digest


def test_a_weekly_with_nothing_for_them_has_no_entries() -> None:
    _, digest = _followers_digest()
    assert weekly_variant(digest, ("Open Models",), ("mistral-ai",)).entries != ()
    assert weekly_variant(digest, ("Open Models",), ("sakana-ai",)).entries == ()


def test_an_item_the_editor_dropped_reaches_no_follower() -> None:
    items, digest = _followers_digest()
    reads = {it.id: read(it.id, 3, 3) for it in items}
    edited = edit_digest(digest, ChangeSet().drop("d").add("e"), items, reads, COMPANIES)
    assert [e.item.id for e in edited.digest.entries if e.item.id == "e"] == ["e"]
    assert [e.item.id for e in edited.digest.company_entries] == ["f"]
    variant = weekly_variant(edited.digest, ("Safety & Policy",), ("nvidia",))
    assert [e.item.id for e in variant.entries] == ["c", "f"]
