"""Social posts: flags, CamelCase hashtags, each platform's count, and fitting to the limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from digest.models import AmwRead, Company, Digest, DigestKind, Entry, NewsItem, ReadRef, Section
from digest.render.marks import camel_hashtag, country_flag, item_flags, unique_hashtags
from digest.render.social import (
    ELLIPSIS,
    PLATFORMS,
    PostOptions,
    compose_company_post,
    compose_digest_posts,
    compose_item_post,
    compose_weekly_posts,
    entry_hashtags,
    facets,
    graphemes,
    little_text,
    post_record,
)
from digest.render.templates import template_environment

MISTRAL = Company("mistral-ai", "Mistral AI", "Foundation Models / LLMs", "FR", "MistralAI")
URL = "https://example.com/news/mistral-sweden"


READ = AmwRead(
    "mistral-sweden",
    "Mistral (a segment 01 case study) buys its way out of the hyperscalers (cross.§A). "
    "The rest of the read stays on the site.",
    4,
    5,
    (ReadRef("segment 01 case study"), ReadRef("cross.§A", "vertical integration")),
)


def entry(
    summary: str = "Mistral invests in Sweden.",
    title: str = "Mistral goes north",
    read: AmwRead | None = READ,
) -> Entry:
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
    return Entry(item=item, read=read, companies=(MISTRAL,))


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
        ("xAI", "xAI"),
        ("OpenAI news", "OpenAINews"),
        ("हिन्दी भाषा", "हिन्दीभाषा"),
        ("ภาษา ไทย", "ภาษาไทย"),
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


def test_a_post_is_hook_summary_read_with_ratings_link_and_hashtags() -> None:
    post = compose_item_post(digest_of(entry()), entry(), PLATFORMS["mastodon"], ENV)
    assert post.text == (
        "🌍🇸🇪 Mistral goes north\n\nMistral invests in Sweden.\n\n"
        "The AMW Read: Mistral buys its way out of the hyperscalers.\n"
        "Novelty 4/5 · Significance 5/5\n\n"
        f"{URL}\n\n#MistralAI #AIInfrastructure #DigitalSovereignty "
        "#FoundationModels #ComputeEconomics"
    )
    assert post.key == "item:mistral-sweden"
    assert post.limit == 500
    assert post.length == PLATFORMS["mastodon"].length(post.text)


def test_the_read_line_is_the_editors_social_line_when_given() -> None:
    social = replace(READ, social="Mistral  picks\nsovereignty.")
    post = compose_item_post(digest_of(entry()), entry(read=social), PLATFORMS["x"], ENV)
    assert "The AMW Read: Mistral picks sovereignty.\n" in post.text
    bare = compose_item_post(digest_of(entry()), entry(read=None), PLATFORMS["x"], ENV)
    assert "AMW Read" not in bare.text and "Novelty" not in bare.text


def test_a_summary_sentence_repeating_the_headline_is_never_used() -> None:
    title = "Mistral AI invests 1.2 billion euros in Swedish data centres"
    summary = f"{title}. It partners with EcoDataCenter."
    said_twice = entry(summary=summary, title=title)
    for platform in ("x", "mastodon", "linkedin"):
        post = compose_item_post(digest_of(said_twice), said_twice, PLATFORMS[platform], ENV)
        assert post.text.count("1.2 billion euros") == 1, platform
        assert "It partners with EcoDataCenter." in post.text
    # A shortened headline in the summary (the site's "…" titles) is a repeat too.
    shortened = entry(summary=f"{title} in the north. Other news.", title=title)
    post = compose_item_post(digest_of(shortened), shortened, PLATFORMS["linkedin"], ENV)
    assert "in the north" not in post.text and "Other news." in post.text


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


LONG_READ = " ".join(["Mistral turns sovereign compute into a product line"] * 3) + "."


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_long_post_gives_up_the_summary_then_the_read_and_keeps_the_company_tag(
    platform: str,
) -> None:
    rules = PLATFORMS[platform]
    summary = " ".join(["Mistral builds sovereign compute."] * 1500)
    long_read = " ".join(["sovereign compute"] * 1500)
    long_entry = entry(summary=summary, read=replace(READ, social=long_read))
    post = compose_item_post(digest_of(long_entry), long_entry, rules, ENV)
    assert rules.fits(post.text)
    assert rules.shown_link(URL) in post.text and post.url == URL
    assert post.text.startswith("🌍🇸🇪 Mistral goes north\n")
    if platform != "threads":
        assert post.hashtags[0] == "MistralAI" and "#MistralAI" in post.text
    assert "Mistral builds sovereign compute." not in post.text  # the summary went first
    assert "Novelty" not in post.text  # then the ratings
    read = post.text.split("The AMW Read: ")[1].split("\n")[0]  # then the read, at a word
    assert read.endswith(ELLIPSIS)
    assert read.removesuffix(ELLIPSIS).split() == long_read.split()[: len(read.split())]


def test_the_summary_goes_by_whole_sentences_before_anything_else() -> None:
    rules = PLATFORMS["x"]
    summary = "Mistral invests in Sweden. " + "More compute for Europe arrives. " * 4
    longer = entry(summary=summary.strip())
    post = compose_item_post(digest_of(longer), longer, rules, ENV)
    assert rules.fits(post.text)
    assert post.hashtags == ("MistralAI", "AIInfrastructure", "DigitalSovereignty")
    assert "Novelty 4/5 · Significance 5/5" in post.text
    assert "Mistral invests in Sweden." in post.text
    paragraph = post.text.split("\n\n")[1]
    assert paragraph.endswith(".") and ELLIPSIS not in paragraph


def test_extra_hashtags_go_after_the_read_and_the_headline_last() -> None:
    rules = PLATFORMS["x"]
    title = " ".join(["Mistral"] * 40)  # about 320: longer than a post
    post = compose_item_post(digest_of(entry(title=title)), entry(title=title), rules, ENV)
    assert rules.fits(post.text)
    assert post.hashtags == ("MistralAI",) and post.text.endswith("#MistralAI")
    assert "AMW Read" not in post.text and URL in post.text
    assert post.text.split("\n")[0].endswith(f"Mistral{ELLIPSIS}")
    nearly = " ".join(["Mistral"] * 27)  # room for the headline and some tags, not the read
    post = compose_item_post(digest_of(entry(title=nearly)), entry(title=nearly), rules, ENV)
    assert nearly in post.text and "AMW Read" not in post.text
    assert post.hashtags[0] == "MistralAI"


def test_a_post_never_splits_a_grapheme() -> None:
    rules = PLATFORMS["bluesky"]
    cut = entry(read=replace(READ, social="👩‍👩‍👧 " * 400))
    post = compose_item_post(digest_of(cut), cut, rules, ENV)
    assert "👩‍👩‍👧 👩‍👩‍👧" in post.text
    assert all(
        cluster in ("👩‍👩‍👧", " ", "…", "\n") or cluster.isprintable()
        for cluster in graphemes(post.text)
    )
    assert "‍\n" not in post.text and "‍…" not in post.text


def test_one_post_per_entry_in_rank_order() -> None:
    first = entry()
    second = replace(first, item=replace(first.item, id="second"))
    posts = list(compose_digest_posts(digest_of(first, second), PLATFORMS["linkedin"], ENV))
    assert [post.key for post in posts] == ["item:mistral-sweden", "item:second"]


# Run-time limits, threads, company posts, per-platform tag rules ---------------------------------


def test_a_servers_own_limit_supplied_at_run_time_is_composed_to() -> None:
    long_entry = entry(summary=" ".join(["Sovereign compute."] * 30))
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
    assert "• Mistral goes north" in post.text
    assert "news.example.org/archive/week..." in post.text and post.links == (ARCHIVE,)
    assert post.hashtags[0] == "MistralAI"


def test_threads_posts_carry_one_topic_tag() -> None:
    post = compose_item_post(digest_of(entry()), entry(), PLATFORMS["threads"], ENV)
    assert post.hashtags == ("FoundationModels",)
    assert post.text.count("#") == 1


def test_a_topic_uses_the_hashtag_its_input_declares() -> None:
    options = PostOptions.with_topics(
        {"Foundation Models · Case Studies": "LLMs", "Compute Economics": None}
    )
    tags = entry_hashtags(entry(), options.topic_tags)
    assert tags[-3:] == ("LLMs", "ComputeEconomics", "Geopolitics")
    threads = compose_item_post(digest_of(entry()), entry(), PLATFORMS["threads"], ENV, options)
    assert threads.hashtags == ("LLMs",)


def test_brand_casing_and_combining_marks_survive_into_posts() -> None:
    xai = Company("xai", "xAI", "Foundation Models / LLMs", "US", "xAI")
    hindi = replace(entry(), companies=(xai,))
    hindi = replace(hindi, item=replace(hindi.item, hashtags=("हिन्दी भाषा",), topics=()))
    post = compose_item_post(digest_of(hindi), hindi, PLATFORMS["mastodon"], ENV)
    assert post.hashtags == ("xAI", "हिन्दीभाषा")
    assert post.text.endswith("#xAI #हिन्दीभाषा")


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
    cut = entry(read=replace(READ, social="Read https://example.org/report and #AIAct " * 30))
    post = compose_item_post(digest_of(cut), cut, rules, ENV)
    line = post.text.split("The AMW Read: ")[1].split("\n")[0]
    assert line.endswith(" …") or line.endswith("…")
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


def test_a_short_item_post_keeps_to_threads_link_limit() -> None:
    # Short enough by length: only the rule on links is broken, and it must still be kept.
    links = " ".join(f"https://e{n}.co/x" for n in range(6))
    story = entry(summary=f"Sources: {links}.", read=None)
    post = compose_item_post(digest_of(story), story, PLATFORMS["threads"], ENV)
    assert post.length < 500
    assert 1 <= post.text.count("https://") <= 5
    assert PLATFORMS["threads"].fits(post.text)


def test_a_short_item_post_keeps_to_bluesky_byte_limit() -> None:
    # 60 graphemes of 61 bytes each: well within 300 graphemes, over Bluesky's 3,000 bytes.
    heavy = " ".join(["A" + "\u0301" * 30] * 60)
    story = entry(summary=f"Mistral invests in Sweden. {heavy}.", read=None)
    post = compose_item_post(digest_of(story), story, PLATFORMS["bluesky"], ENV)
    assert len(post.text.encode("utf-8")) <= 3000
    assert PLATFORMS["bluesky"].fits(post.text) and "invests in Sweden." in post.text


# Bluesky's langs and links as its own RichText finds them ------------------------------------


@pytest.mark.parametrize(
    ("title", "summary", "language"),
    [
        ("Mistral goes north", "Mistral invests in Sweden. It builds data centres.", "en"),
        ("阿里巴巴发布通义千问4开源权重", "阿里巴巴公布了通义千问4系列模型的权重。", "zh"),
        ("सर्वम एआई ने हिन्दी भाषा मॉडल जारी किया", "यह मॉडल भारतीय भाषाओं के लिए है।", "hi"),
    ],
)
def test_a_posts_language_is_detected_and_bluesky_says_it(
    title: str, summary: str, language: str
) -> None:
    story = entry(summary=summary, title=title, read=None)
    post = compose_item_post(digest_of(story), story, PLATFORMS["bluesky"], ENV)
    assert post.language == language
    record = post_record(text=post.text, hashtags=post.hashtags, created_at="t", langs=[language])
    assert record["langs"] == [language]


def test_bare_domains_are_linked_as_atproto_richtext_detects_them() -> None:
    text = "🇸🇪 Grok from x.ai, see mistral.ai/news. (example.com) 1.2 billion file.zzzz #AI"
    links = [
        (text.encode()[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f)
        for f in facets(text, ("AI",))
        if f["features"][0]["$type"].endswith("#link")
    ]
    assert [(shown, f["features"][0]["uri"]) for shown, f in links] == [
        ("x.ai", "https://x.ai"),
        ("mistral.ai/news", "https://mistral.ai/news"),
        ("example.com", "https://example.com"),
    ]
