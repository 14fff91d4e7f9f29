"""Composing the social posts of every platform for 1,000 items (target: at most one second).

    .venv/bin/python bench/bench_social.py [--items 1000] [--naive 100] [--rounds 3]

Items are the bundled sample's, repeated with varied titles (some with CJK and emoji) until there
are --items of them; every item gets one post per platform (X, Mastodon, Bluesky, LinkedIn,
Threads, Slack, Discord), each fitted to its platform's limit by that platform's counting.

The fast way is the composer: a few renders per post, the first cut where an estimate puts it,
exact counts from there, each word's count remembered. The naive way renders and counts the
whole text afresh after each dropped hashtag and each dropped word; it is timed on the first
--naive items (it is slow) and compared per post. The two ways run in turn, --rounds times;
medians, by CPU time (wall beside it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime
from importlib.resources import files

from jinja2 import Environment

from digest.ingest import read_sources
from digest.models import Digest, DigestKind, Entry, Section
from digest.render.marks import item_flags
from digest.render.social import PLATFORMS, Platform, SocialPost, compose_digest_posts
from digest.render.social.anatomy import ratings, read_line, summary_sentences
from digest.render.social.compose import ELLIPSIS, _platform_tags, entry_hashtags
from digest.render.social.language import language_of
from digest.render.templates import template_environment

EXTRA_TITLES = (
    "",
    " — 日本語の要約付き",
    " 🚀🇪🇺",
    " with a much longer headline about sovereign compute",
)


def entries(count: int) -> list[Entry]:
    batch = read_sources([str(files("digest") / "data" / "sample.yaml")])
    companies = {company.slug: company for company in batch.companies}
    reads = {read.item_id: read for read in batch.reads}
    made = []
    for n in range(count):
        item = batch.items[n % len(batch.items)]
        item = replace(item, id=f"{item.id}-{n}", title=item.title + EXTRA_TITLES[n % 4])
        read = reads.get(batch.items[n % len(batch.items)].id)
        made.append(Entry(item, read, tuple(companies[slug] for slug in item.companies)))
    return made


def digest_of(made: list[Entry]) -> Digest:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    return Digest(
        DigestKind.WEEKLY,
        "weekly:bench",
        "Bench",
        start,
        start,
        (Section("All", tuple(made)),),
        start,
    )


def naive_fits(platform: Platform, text: str) -> bool:
    """The whole text counted afresh every time (no memo of words already counted)."""
    fits = platform.measure(text) <= platform.max_length
    return fits and (platform.name != "bluesky" or len(text.encode("utf-8")) <= 3000)


def naive_post(entry: Entry, platform: Platform, template) -> str:  # type: ignore[no-untyped-def]
    """Render and count the whole text after each hashtag dropped, then each word dropped."""
    item = entry.item
    tags = _platform_tags(platform, entry_hashtags(entry))
    words = item.summary.split()

    line, marks = read_line(entry.read, item.title), ratings(entry.read)

    def render(tags: list[str], count: int) -> str:
        summary = " ".join(words[:count]) + (ELLIPSIS if count < len(words) else "")
        return template.render(
            title=item.title,
            summary=summary,
            read=line,
            ratings=marks,
            url=item.url,
            flags=item_flags(item),
            hashtags=tags,
        ).strip()

    count = len(words)
    text = render(tags, count)
    while not naive_fits(platform, text) and tags:
        tags = tags[:-1]
        text = render(tags, count)
    while not naive_fits(platform, text) and count:
        count -= 1
        text = render(tags, count)
    return text


def fast_posts(
    digest: Digest, platforms: list[Platform], env: Environment
) -> tuple[float, float, list[SocialPost]]:
    """CPU and wall seconds of every platform's posts of the digest, and the posts."""
    # What the composer remembers per item (within one digest's posts) starts empty each round.
    for cached in (summary_sentences, read_line, language_of, entry_hashtags):
        cached.cache_clear()
    cpu, wall = time.process_time(), time.perf_counter()
    posts: list[SocialPost] = []
    for platform in platforms:
        posts.extend(compose_digest_posts(digest, platform, env))
    return time.process_time() - cpu, time.perf_counter() - wall, posts


def naive_posts(
    sample: list[Entry], platforms: list[Platform], env: Environment
) -> tuple[float, float]:
    template = env.get_template("social/item.txt.j2")
    cpu, wall = time.process_time(), time.perf_counter()
    for platform in platforms:
        for entry in sample:
            naive_post(entry, platform, template)
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--naive", type=int, default=100, help="items the naive way is timed on")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both ways (medians)")
    args = parser.parse_args()
    env = template_environment()
    made = entries(args.items)
    digest = digest_of(made)
    platforms = list(PLATFORMS.values())
    for platform in platforms:  # warm up: templates compiled, regexes built, languages loaded
        list(compose_digest_posts(digest_of(made[:5]), platform, env))
    sample = made[: args.naive]
    fast: list[tuple[float, float]] = []
    naive: list[tuple[float, float]] = []
    for _ in range(args.rounds):  # the two ways in turn, so that both see the same load
        cpu, wall, posts = fast_posts(digest, platforms, env)
        fast.append((cpu, wall))
        naive.append(naive_posts(sample, platforms, env))
    over = sum(1 for post in posts if post.length > post.limit)
    fast_cpu, fast_wall = (statistics.median(run[i] for run in fast) for i in (0, 1))
    naive_cpu, naive_wall = (statistics.median(run[i] for run in naive) for i in (0, 1))
    per_post = fast_cpu / len(posts)
    per_naive = naive_cpu / (len(sample) * len(platforms))
    print(
        f"items: {len(made):,}; platforms: {len(platforms)}; posts: {len(posts):,}; "
        f"over the limit: {over}; medians of {args.rounds} rounds"
    )
    print(
        f"fast:  {fast_cpu:.3f} s of CPU for all ({fast_wall:.3f} s wall), "
        f"{per_post * 1e6:,.0f} µs of CPU a post"
    )
    print(
        f"naive: {per_naive * 1e6:,.0f} µs of CPU a post ({naive_cpu:.2f} s of CPU,"
        f" {naive_wall:.2f} s wall for {len(sample):,} items; render and count afresh per"
        f" dropped tag and word), {per_naive * len(posts):.2f} s of CPU for all, estimated"
    )
    print(
        f"ratio (CPU): {per_naive / per_post:.1f}x; target 1 s of CPU for {args.items:,} items: "
        f"{'met' if fast_cpu <= 1.0 else 'NOT met'}; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
