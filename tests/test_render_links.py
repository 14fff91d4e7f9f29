"""Links that bring readers to the site: the item's own page, campaign (utm_) parameters per
channel, and the tracked /r/ redirect for posts, so that clicks count the same way everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from digests_for_tests import SITE, weekly_digest

from digest.compose.weeks import IsoWeek
from digest.context import Context
from digest.engagement import LinkSigner, TrackedLinks
from digest.ingest import read_sources
from digest.models import Digest
from digest.render.email import EmailRenderer, Recipient
from digest.render.links import Campaign, LinkWriter, item_link
from digest.render.social import PLATFORMS, PostOptions, compose_item_post, post_record
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.settings import CampaignSettings, TrackingSettings, parse_settings
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
ENV = template_environment()
NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)
PAGE = "https://news.example.org/news/mistral-sweden-page"
CAMPAIGN = Campaign("x", "social", "weekly:2026-W48")


def test_campaign_parameters_are_added_and_a_links_own_are_kept() -> None:
    tagged = CAMPAIGN.tag("https://news.example.org/a?q=1#top")
    parts = urlsplit(tagged)
    assert parse_qs(parts.query) == {
        "q": ["1"],
        "utm_source": ["x"],
        "utm_medium": ["social"],
        "utm_campaign": ["weekly:2026-W48"],
    }
    assert parts.fragment == "top"
    own = CAMPAIGN.tag("https://example.com/a?utm_source=newsletter")
    assert parse_qs(urlsplit(own).query)["utm_source"] == ["newsletter"]
    writer = LinkWriter(CAMPAIGN)
    assert writer.url("javascript:alert(1)", "item:x") == "javascript:alert(1)"
    assert LinkWriter().url(PAGE, "item:x") == PAGE


def test_a_tracked_link_redirects_to_the_tagged_target_and_names_channel_and_post() -> None:
    tracked = TrackedLinks.for_digest(
        SITE, TrackingSettings(social=True), "weekly:2026-W48", now=NOW, channel="x-main"
    )
    url = LinkWriter(CAMPAIGN, tracked).url(PAGE, "post:item:mistral")
    assert url.startswith("https://news.example.org/r/")
    link = LinkSigner.for_site(SITE).read_link(url.rsplit("/", 1)[1])
    assert link is not None
    assert (link.channel, link.name, link.digest_key) == (
        "x-main",
        "post:item:mistral",
        "weekly:2026-W48",
    )
    assert link.target == CAMPAIGN.tag(PAGE)


def with_page(digest: Digest) -> Digest:
    section = digest.sections[0]
    first = section.entries[0]
    entry = replace(first, item=replace(first.item, page_url=PAGE))
    return replace(digest, sections=(replace(section, entries=(entry, *section.entries[1:])),))


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html.replace("&amp;", "&"))


def test_email_headlines_link_the_items_page_with_the_email_campaign() -> None:
    digest = with_page(weekly_digest())
    reader = Recipient("a@example.com", "A", "html", (), "https://p", "https://u", "https://w")
    renderer = EmailRenderer(ENV, SITE, CampaignSettings(email=True))
    parts = renderer.compile(digest).personalise(reader)
    assert parts.html is not None
    tagged = f"{PAGE}?utm_source=email&utm_medium=email&utm_campaign=weekly:2026-W48"
    assert tagged in hrefs(parts.html) and tagged in parts.text
    source = digest.entries[0].item.url
    assert source not in {href.split("?")[0] for href in hrefs(parts.html)}
    # The web version (archive, previews) is no email: the page, without a campaign.
    web = renderer.web_version(digest)
    assert web.html is not None and PAGE in hrefs(web.html)
    assert not any("utm_" in href for href in hrefs(web.html))
    plain = EmailRenderer(ENV, SITE).compile(digest).personalise(reader)
    assert plain.html is not None and PAGE in hrefs(plain.html)


def test_a_post_links_the_items_page_and_bluesky_links_it_in_full() -> None:
    digest = with_page(weekly_digest())
    entry = digest.entries[0]
    assert item_link(entry.item) == PAGE
    options = PostOptions(links=LinkWriter(Campaign("bluesky", "social", digest.key)))
    post = compose_item_post(digest, entry, PLATFORMS["bluesky"], ENV, options)
    assert post.url == post.links[0] == Campaign("bluesky", "social", digest.key).tag(PAGE)
    assert "news.example.org/news/mistral..." in post.text  # as Bluesky's app shows a link
    record = post_record(text=post.text, hashtags=post.hashtags, created_at="t", links=post.links)
    (link,) = [f for f in record["facets"] if f["features"][0]["$type"].endswith("#link")]
    assert link["features"][0]["uri"] == post.url
    shown = post.text.encode()[link["index"]["byteStart"] : link["index"]["byteEnd"]]
    assert shown.decode() == "news.example.org/news/mistral..."


@pytest.fixture
def context(store: Store, tmp_path: Path) -> Iterator[Context]:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["campaign"] = {"social": True, "social_medium": "social-post"}
    raw["tracking"]["social"] = True
    raw["social"][0]["campaign"] = False  # the x channel: no utm_ parameters
    settings = parse_settings(raw, where="settings.yaml", root=tmp_path)
    store.write_batch(read_sources([str(REPO / "digest" / "data" / "sample.yaml")]))
    yield Context(settings=settings, store=store, env=template_environment(), clock=lambda: NOW)


def test_each_channel_tags_its_posts_links_its_way_and_tracks_them(context: Context) -> None:
    digest = jobs.compose_weekly(context, IsoWeek.parse("2026-W48"))
    signer = LinkSigner.for_site(context.settings.site)
    targets: dict[str, str] = {}
    for channel, post in jobs.compose_posts(context, digest):
        if post.key == "item:mistral-sweden-datacentres":
            link = signer.read_link(post.url.rsplit("/", 1)[1])
            assert link is not None and link.channel == channel
            assert link.name == "post:item:mistral-sweden-datacentres"
            targets[channel] = link.target
    assert targets["x"] == "https://news.example.org/news/mistral-sweden-datacentres"
    assert parse_qs(urlsplit(targets["bluesky"]).query) == {
        "utm_source": ["bluesky"],
        "utm_medium": ["social-post"],
        "utm_campaign": ["weekly:2026-W48"],
    }
