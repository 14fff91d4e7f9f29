"""Property tests: whatever the titles, summaries, reads, emoji, flags, CJK, URLs and hashtags,
a post never exceeds its platform's limit by that platform's counting, never splits a grapheme,
keeps its link and (but on Threads) its company's hashtag, and never says its headline twice.
X is checked against twitter-text itself (the Python port of the reference)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from digest.models import AmwRead, Company, Digest, DigestKind, Entry, NewsItem, Section
from digest.render.marks import item_flags
from digest.render.social import (
    ELLIPSIS,
    PLATFORMS,
    BlueskyPlatform,
    compose_item_post,
    compose_weekly_posts,
    graphemes,
)
from digest.render.templates import template_environment

ENV = template_environment()
EMOJI = ["🇸🇪", "🇫🇷", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👩‍👩‍👧", "👍🏽", "❤️", "©", "1️⃣", "🌍", "🇪🇺"]
CJK = ["日本", "中国語", "한국어", "テスト"]
URLS = ["https://example.com/a", "http://news.example.org/x?y=1", "x.ai", "mistral.ai/news"]
word = st.one_of(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(EMOJI + CJK + URLS + ["#AI", "@someone", "e\u0301", "a\u200db"]),
)
words = st.lists(word, max_size=120).map(" ".join)
tag = st.from_regex(r"[A-Z][A-Za-z0-9]{0,30}", fullmatch=True)
link = st.from_regex(r"https://[a-z]{1,20}\.(com|org|io|ai|eu)/[a-z0-9/-]{0,60}", fullmatch=True)


def an_entry(
    title: str, summary: str, url: str, tags: list[str], countries: list[str], read: str = "r"
) -> Entry:
    item = NewsItem(
        id="i1",
        title=title,
        summary=summary,
        url=url,
        published_at=datetime(2026, 11, 26, tzinfo=UTC),
        companies=("acme",),
        category="Product",
        topics=("Compute Economics",),
        countries=tuple(countries),
        region="EU",
        hashtags=tuple(tags),
    )
    company = Company("acme", "Acme", "Chips", "SE", "AcmeAI")
    return Entry(item=item, read=AmwRead("i1", read, 3, 3, social=read), companies=(company,))


def a_digest(*entries: Entry) -> Digest:
    return Digest(
        kind=DigestKind.WEEKLY,
        key="weekly:2026-W48",
        title="The week in AI",
        window_start=datetime(2026, 11, 23, tzinfo=UTC),
        window_end=datetime(2026, 11, 30, tzinfo=UTC),
        sections=(Section("S", tuple(entries)),),
        generated_at=datetime(2026, 11, 30, tzinfo=UTC),
    )


def kept_in_order(part: str, source: str) -> bool:
    """Every grapheme of `part` (less the ellipsis) is the next one of `source`'s words."""
    source_clusters = graphemes(" ".join(source.split()))
    clusters = [c for c in graphemes(part.replace(ELLIPSIS, "")) if c.strip()]
    position = 0
    for cluster in clusters:
        while position < len(source_clusters) and source_clusters[position] != cluster:
            position += 1
        if position == len(source_clusters):
            return False
        position += 1
    return True


COMPANY_TAG_PLATFORMS = ("x", "bluesky", "mastodon", "linkedin")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=words.filter(str.strip),
    summary=words,
    read=words.filter(str.strip),
    url=link,
    tags=st.lists(tag, max_size=8),
    countries=st.lists(st.sampled_from(["SE", "FR", "JP", "ZZ", "US"]), max_size=3),
)
def test_no_post_exceeds_its_limit_splits_a_grapheme_or_loses_its_link(
    title: str, summary: str, read: str, url: str, tags: list[str], countries: list[str]
) -> None:
    entry = an_entry(title, summary, url, tags, countries, read)
    digest = a_digest(entry)
    for name, platform in PLATFORMS.items():
        post = compose_item_post(digest, entry, platform, ENV)
        assert platform.fits(post.text), name
        assert post.length <= post.limit, name
        if isinstance(platform, BlueskyPlatform):
            assert len(post.text.encode("utf-8")) <= platform.max_bytes
        if name == "x":
            assert parse_tweet(post.text).weightedLength <= 280, post.text
        shown = platform.shown_link(url)  # Bluesky's app way: shortened, its facet in full
        assert shown in post.text.split() and post.url == url and post.links == (url,), name
        before_link = post.text.split(shown)[0]
        said = f"{item_flags(entry.item)} {title} {summary} The AMW Read: {read}"
        assert kept_in_order(before_link, f"{said} Novelty 3/5 · Significance 3/5"), name
        for hashtag in post.hashtags:
            assert f"#{hashtag}" in post.text


headline = st.lists(st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True), min_size=3, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=headline.map(" ".join),
    opens_with_title=st.booleans(),
    summary=words,
    read=words,
    tags=st.lists(tag, max_size=8),
)
def test_every_post_keeps_its_company_tag_and_never_says_its_headline_twice(
    title: str, opens_with_title: bool, summary: str, read: str, tags: list[str]
) -> None:
    # The site's summaries often open with the headline itself, as the seed's Mistral item does.
    summary = f"{title}. {summary}" if opens_with_title else summary
    entry = an_entry(title, summary, "https://news.example.org/a", tags, ["SE"], read)
    digest = a_digest(entry)
    for name in COMPANY_TAG_PLATFORMS:
        post = compose_item_post(digest, entry, PLATFORMS[name], ENV)
        assert post.hashtags and post.hashtags[0] == "AcmeAI", name
        assert "#AcmeAI" in post.text.split(), name
        assert post.text.count(title) <= 1, name
        assert post.text.count(f"{title}.") == 0, name


@settings(max_examples=80, deadline=None)
@given(text=words)
def test_x_counts_as_twitter_text_does(text: str) -> None:
    assert PLATFORMS["x"].length(text) >= parse_tweet(text).weightedLength


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles=st.lists(words.filter(str.strip), min_size=1, max_size=12), url=link)
def test_weekly_threads_fit_every_part(titles: list[str], url: str) -> None:
    entries = [
        an_entry(title, "", f"{url}/{index}", [], ["SE"]) for index, title in enumerate(titles)
    ]
    digest = a_digest(*entries)
    for name, platform in PLATFORMS.items():
        posts = compose_weekly_posts(digest, platform, ENV, url="https://news.example.org/w48")
        assert all(platform.fits(post.text) for post in posts), name
        assert platform.shown_link("https://news.example.org/w48") in posts[0].text
        if name == "x":
            assert all(parse_tweet(post.text).weightedLength <= 280 for post in posts)
