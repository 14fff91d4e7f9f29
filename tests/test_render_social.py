"""Social posts: flags, CamelCase hashtags, each platform's count, and fitting to the limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from digest.models import AmwRead, Company, Digest, DigestKind, Entry, NewsItem, Section
from digest.render.marks import camel_hashtag, country_flag, item_flags, unique_hashtags
from digest.render.social import (
    PLATFORMS,
    compose_company_post,
    compose_digest_posts,
    compose_item_post,
    compose_weekly_posts,
    entry_hashtags,
    graphemes,
    little_text,
)
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


# Run-time limits, threads, company posts, per-platform tag rules ---------------------------------


def test_a_servers_own_limit_supplied_at_run_time_is_composed_to() -> None:
    long_entry = entry(summary=" ".join(["sovereign compute"] * 60))
    default = compose_item_post(digest_of(long_entry), long_entry, PLATFORMS["mastodon"], ENV)
    bigger = PLATFORMS["mastodon"].with_limits(max_length=1000, url_length=30)
    roomy = compose_item_post(digest_of(long_entry), long_entry, bigger, ENV)
    assert default.limit == 500 and roomy.limit == 1000
    assert 500 < roomy.length <= 1000 and default.length <= 500
    assert bigger.length(URL) == 30


def stories(count: int) -> list[Entry]:
    first = entry()
    return [
        replace(
            first,
            item=replace(
                first.item, id=f"s{n}", title=f"Story {n} about compute", url=f"{URL}/{n}"
            ),
        )
        for n in range(count)
    ]


ARCHIVE = "https://news.example.org/archive/weekly:2026-W48"


def test_a_weekly_digest_that_one_post_cannot_hold_becomes_a_numbered_thread() -> None:
    digest = digest_of(*stories(10))
    posts = compose_weekly_posts(digest, PLATFORMS["x"], ENV, url=ARCHIVE)
    count = len(posts)
    assert count > 1
    assert [post.key for post in posts] == ["top", *(f"top:{n}" for n in range(2, count + 1))]
    assert posts[0].text.startswith("🗞️ The week: top stories 🧵 1/")
    assert all(post.text.count(f"/{count}") >= 1 for post in posts)
    assert ARCHIVE in posts[0].text
    assert [post.reply_to for post in posts] == [
        None,
        "top",
        *(f"top:{n}" for n in range(2, count)),
    ]
    assert all(post.thread_root == "top" for post in posts[1:])
    assert all(PLATFORMS["x"].fits(post.text) for post in posts)
    listed = "".join(post.text for post in posts)
    assert all(f"Story {n} about compute {URL}/{n}" in listed for n in range(10))


def test_a_platform_without_threads_gets_one_top_stories_post() -> None:
    digest = digest_of(*stories(10))
    (post,) = compose_weekly_posts(digest, PLATFORMS["threads"], ENV, url=ARCHIVE)
    assert post.key == "top" and PLATFORMS["threads"].fits(post.text)
    assert ARCHIVE in post.text and "Story 0 about compute" in post.text
    (linkedin,) = compose_weekly_posts(digest, PLATFORMS["linkedin"], ENV, url=ARCHIVE)
    assert all(f"Story {n} about compute" in linkedin.text for n in range(10))


def test_a_company_digest_post_has_its_flag_tag_stories_and_link() -> None:
    company = replace(digest_of(entry()), kind=DigestKind.COMPANY, company=MISTRAL)
    company = replace(company, key="company:mistral-ai:2026-W48", title="Mistral AI: what's new")
    post = compose_company_post(company, PLATFORMS["bluesky"], ENV, url=ARCHIVE)
    assert post.key == "company:mistral-ai"
    assert post.text.startswith("🇫🇷 Mistral AI: what's new\n")
    assert "• Mistral goes north" in post.text and ARCHIVE in post.text
    assert post.hashtags[0] == "MistralAI"


def test_threads_posts_carry_one_topic_tag() -> None:
    post = compose_item_post(digest_of(entry()), entry(), PLATFORMS["threads"], ENV)
    assert post.hashtags == ("MistralAI",)
    assert post.text.count("#") == 1


def test_bluesky_leaves_out_tags_longer_than_64_graphemes() -> None:
    long_tag = "A" + "b" * 70
    tagged = entry()
    tagged = replace(tagged, item=replace(tagged.item, hashtags=(long_tag, "Short")))
    post = compose_item_post(digest_of(tagged), tagged, PLATFORMS["bluesky"], ENV)
    assert long_tag not in post.hashtags and "Short" in post.hashtags
    assert long_tag in compose_item_post(digest_of(tagged), tagged, PLATFORMS["x"], ENV).text


def test_hashtags_never_start_with_a_digit_and_hold_only_letters_and_digits() -> None:
    odd = entry()
    odd = replace(odd, item=replace(odd.item, hashtags=("2024 results", "٣abc", "C++", "AI-Act")))
    tags = entry_hashtags(odd)
    assert "Results" in tags and "AIAct" in tags and "C" in tags
    assert all(tag[0].isalpha() and tag.isalnum() for tag in tags)


def test_a_cut_never_glues_the_ellipsis_to_a_url_or_a_tag() -> None:
    rules = PLATFORMS["bluesky"]
    summary = "Read https://example.org/report and #AIAct " * 30
    cut = entry(summary=summary)
    post = compose_item_post(digest_of(cut), cut, rules, ENV)
    body = post.text.split("\n\n")[1]
    assert body.endswith(" …") or body.endswith("…")
    assert "https://example.org/report…" not in post.text and "#AIAct…" not in post.text


def test_linkedin_little_text_escapes_markup_but_not_tags_or_links() -> None:
    text = f"Q&A (live) @ [x] #1 *now* {URL}?q=a_b\n\n#MistralAI"
    assert little_text(text, ("MistralAI",)) == (
        rf"Q&A \(live\) \@ \[x\] \#1 \*now\* {URL}?q=a_b" + "\n\n#MistralAI"
    )


def test_threads_posts_carry_at_most_five_links_however_short_the_stories() -> None:
    short = [
        replace(story, item=replace(story.item, title=f"S{n}", url=f"https://e.co/{n}"))
        for n, story in enumerate(stories(12))
    ]
    (post,) = compose_weekly_posts(digest_of(*short), PLATFORMS["threads"], ENV, url=ARCHIVE)
    assert post.text.count("https://") <= 5
    assert ARCHIVE in post.text and "S0" in post.text
