"""Social posts: flags, CamelCase hashtags, each platform's count, and fitting to the limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from digest.models import AmwRead, Company, Digest, DigestKind, Entry, NewsItem, Section
from digest.render.marks import camel_hashtag, country_flag, item_flags, unique_hashtags
from digest.render.social import PLATFORMS, compose_digest_posts, compose_item_post, graphemes
from digest.render.templates import template_environment

MISTRAL = Company("mistral-ai", "Mistral AI", "Foundation Models / LLMs", "FR", "MistralAI")
URL = "https://example.com/news/mistral-sweden"


def entry(summary: str = "Mistral invests in Sweden.", title: str = "Mistral goes north") -> Entry:
    item = NewsItem(
        id="mistral-sweden",
        title=title,
        summary=summary,
        url=URL,
        published_at=datetime(2026, 11, 26, 9, tzinfo=UTC),
        companies=("mistral-ai",),
        category="Expansion",
        topics=("Foundation Models · Case Studies", "Compute Economics", "Geopolitics"),
        countries=("SE",),
        region="global",
        hashtags=("AIInfrastructure", "DigitalSovereignty"),
    )
    return Entry(item=item, read=AmwRead(item.id, "Read.", 4, 5), companies=(MISTRAL,))


def digest_of(*entries: Entry) -> Digest:
    return Digest(
        kind=DigestKind.WEEKLY,
        key="weekly:2026-W48",
        title="The week",
        window_start=datetime(2026, 11, 23, tzinfo=UTC),
        window_end=datetime(2026, 11, 30, tzinfo=UTC),
        sections=(Section("Compute", tuple(entries)),),
        generated_at=datetime(2026, 11, 30, tzinfo=UTC),
    )


ENV = template_environment()


def test_flags_come_from_iso_codes_and_regions() -> None:
    assert country_flag("SE") == "🇸🇪"
    assert country_flag("se") == "🇸🇪"
    assert country_flag("ZZ") is None
    assert item_flags(entry().item) == "🌍🇸🇪"


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("Compute Economics", "ComputeEconomics"),
        ("Foundation Models · Case Studies", "FoundationModelsCaseStudies"),
        ("Chips & Hardware", "ChipsHardware"),
        ("DeepSeek", "DeepSeek"),
        ("2024 results", "Results"),
        ("2024", None),
        ("!!!", None),
    ],
)
def test_hashtags_are_camel_case_letters_and_digits(text: str, tag: str | None) -> None:
    assert camel_hashtag(text) == tag


def test_hashtags_are_deduplicated_case_insensitively_in_order() -> None:
    assert unique_hashtags(["MistralAI", "mistralai", "AI chips", "AIChips"]) == (
        "MistralAI",
        "AIChips",
    )


def test_a_post_has_flags_headline_summary_link_and_hashtags() -> None:
    post = compose_item_post(digest_of(entry()), entry(), PLATFORMS["mastodon"], ENV)
    assert post.text == (
        "🌍🇸🇪 Mistral goes north\n\nMistral invests in Sweden.\n\n"
        f"{URL}\n\n#MistralAI #AIInfrastructure #DigitalSovereignty "
        "#FoundationModelsCaseStudies #ComputeEconomics #Geopolitics"
    )
    assert post.key == "item:mistral-sweden"
    assert post.limit == 500
    assert post.length == PLATFORMS["mastodon"].length(post.text)


def test_x_counts_urls_as_23_and_emoji_and_cjk_as_2() -> None:
    x = PLATFORMS["x"]
    assert x.length("abc") == 3
    assert x.length(URL) == 23
    assert x.length("🇸🇪") == 2
    assert x.length("👩‍👩‍👧") == 2
    assert x.length("日本") == 4
    assert x.length("café") == 4


def test_bluesky_counts_graphemes_and_urls_in_full() -> None:
    bluesky = PLATFORMS["bluesky"]
    assert bluesky.length("🇸🇪 é") == 3
    assert bluesky.length(URL) == len(URL)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_long_post_drops_hashtags_then_shortens_the_summary(platform: str) -> None:
    rules = PLATFORMS[platform]
    summary = " ".join(["sovereign compute"] * 1500)
    long_entry = entry(summary=summary)
    post = compose_item_post(digest_of(long_entry), long_entry, rules, ENV)
    assert rules.fits(post.text)
    assert post.hashtags == ()
    assert URL in post.text
    assert post.text.startswith("🌍🇸🇪 Mistral goes north")
    assert "…" in post.text
    shortened = post.text.split("\n\n")[1]
    assert shortened.removesuffix("…").split() == summary.split()[: len(shortened.split())]


def test_least_specific_hashtags_go_first() -> None:
    rules = PLATFORMS["x"]
    summary = "Mistral invests in Sweden. " + "More compute for Europe. " * 4
    longer = entry(summary=summary.strip())
    post = compose_item_post(digest_of(longer), longer, rules, ENV)
    assert rules.fits(post.text)
    assert post.hashtags[:3] == ("MistralAI", "AIInfrastructure", "DigitalSovereignty")
    assert "Geopolitics" not in post.hashtags
    assert summary.strip() in post.text  # the summary stays whole while hashtags can go


def test_a_post_never_splits_a_grapheme() -> None:
    rules = PLATFORMS["bluesky"]
    summary = "👩‍👩‍👧 " * 400
    long_entry = entry(summary=summary)
    post = compose_item_post(digest_of(long_entry), long_entry, rules, ENV)
    assert all(
        cluster in ("👩‍👩‍👧", " ", "…", "\n") or cluster.isprintable()
        for cluster in graphemes(post.text)
    )
    assert "‍\n" not in post.text


def test_one_post_per_entry_in_rank_order() -> None:
    first = entry()
    second = replace(first, item=replace(first.item, id="second"))
    posts = list(compose_digest_posts(digest_of(first, second), PLATFORMS["linkedin"], ENV))
    assert [post.key for post in posts] == ["item:mistral-sweden", "item:second"]
