"""The archive's feeds and link previews: an Atom feed feedparser reads without complaint, a JSON
Feed that a JSON Feed 1.1 schema accepts, and on each archive page its Open Graph and Twitter
Card tags, its canonical link, the site's header and a way back."""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import jsonschema
import pytest
from PIL import Image

from digest.links import archive_url
from digest.schedule import jobs
from digest.store.store import ApprovalStatus
from digest.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient

from api_support import BASE_URL, ApiWorld

SCHEMA = json.loads((Path(__file__).parent / "data" / "jsonfeed-1.1.schema.json").read_text())


@pytest.fixture
def client(world: ApiWorld) -> TestClient:
    return TestClient(create_app(world.ctx), base_url="https://elsewhere.example")


def sent_digests(world: ApiWorld) -> list[str]:
    """The latest week's weekly digest and its company digests, planned for their readers."""
    week = jobs.latest_week(world.ctx)
    assert week is not None
    digests = [jobs.compose_weekly(world.ctx, week), *jobs.compose_companies(world.ctx, week)[:2]]
    for digest in digests:
        jobs.plan_email(world.ctx, digest, at_once=True)
    return [digest.key for digest in digests]


def test_the_atom_feed_is_read_by_feedparser(client: TestClient, world: ApiWorld) -> None:
    keys = sent_digests(world)
    response = client.get("/archive/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "AMW Weekly"
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links == {"self": f"{BASE_URL}/archive/feed.atom", "alternate": f"{BASE_URL}/archive"}
    assert sorted(entry.link for entry in parsed.entries) == sorted(
        archive_url(world.ctx.settings.site, key) for key in keys
    )
    for entry in parsed.entries:
        assert entry.id == entry.link and entry.updated_parsed and entry.title
        assert "The AMW Read" in entry.content[0].value
    assert "elsewhere.example" not in response.text  # never the request's Host


def test_the_json_feed_matches_the_json_feed_schema(client: TestClient, world: ApiWorld) -> None:
    keys = sent_digests(world)
    response = client.get("/archive/feed.json")
    assert response.headers["content-type"].startswith("application/feed+json")
    feed = response.json()
    jsonschema.validate(feed, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == f"{BASE_URL}/archive/feed.json"
    assert {item["id"] for item in feed["items"]} == {
        archive_url(world.ctx.settings.site, key) for key in keys
    }
    for item in feed["items"]:
        assert datetime.fromisoformat(item["date_published"]).tzinfo is not None
        assert "<h3><a href=" in item["content_html"]


def test_feeds_leave_out_a_held_digest(client: TestClient, world: ApiWorld) -> None:
    empty = client.get("/archive/feed.json").json()
    assert empty["items"] == []
    jsonschema.validate(empty, SCHEMA)
    assert feedparser.parse(client.get("/archive/feed.atom").content).bozo == 0
    week = jobs.latest_week(world.ctx)
    assert week is not None
    digest = jobs.compose_weekly(world.ctx, week)
    world.ctx.store.save_digest(digest)
    world.ctx.store.set_digest_approval(digest.key, ApprovalStatus.HELD, by=None, at=None)
    assert client.get("/archive/feed.json").json()["items"] == []
    assert feedparser.parse(client.get("/archive/feed.atom").content).entries == []


def test_feed_text_is_escaped(client: TestClient, world: ApiWorld) -> None:
    week = jobs.latest_week(world.ctx)
    assert week is not None
    digest = jobs.compose_weekly(world.ctx, week)
    entry = digest.entries[0]
    item = replace(entry.item, title='Chips & <script>alert("x")')
    section = replace(digest.sections[0], entries=(replace(entry, item=item),))
    jobs.plan_email(world.ctx, replace(digest, sections=(section,)))
    (published,) = client.get("/archive/feed.json").json()["items"]
    assert "<script>" not in published["content_html"]
    assert "Chips &amp; &lt;script&gt;" in published["content_html"]
    atom = client.get("/archive/feed.atom")
    assert feedparser.parse(atom.content).bozo == 0 and "<script>" not in atom.text


class HeadTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: list[dict[str, str]] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta" and ("property" in values or "name" in values):
            self.meta[values.get("property") or values["name"]] = values.get("content", "")
        elif tag == "link":
            self.links.append(values)
        elif tag == "a":
            self.anchors.append(values.get("href", ""))


def test_an_archive_page_previews_well_and_leads_back(client: TestClient, world: ApiWorld) -> None:
    key = sent_digests(world)[0]
    response = client.get(f"/archive/{key}")
    assert response.status_code == 200
    tags = HeadTags()
    tags.feed(response.text)
    url = archive_url(world.ctx.settings.site, key)
    digest = world.ctx.store.load_digest(key)
    assert digest is not None
    assert tags.meta["og:title"] == tags.meta["twitter:title"] == digest.title
    assert tags.meta["og:url"] == url and tags.meta["og:type"] == "article"
    assert tags.meta["og:description"] and tags.meta["og:site_name"] == "AMW Weekly"
    image = f"{BASE_URL}/cards/{key}/1-1200x630.png"  # the top story's card
    assert tags.meta["og:image"] == tags.meta["twitter:image"] == image
    assert (tags.meta["og:image:width"], tags.meta["og:image:height"]) == ("1200", "630")
    assert digest.entries[0].item.title in tags.meta["og:image:alt"]
    assert tags.meta["twitter:image:alt"] == tags.meta["og:image:alt"]
    assert tags.meta["twitter:card"] == "summary_large_image"
    assert {"rel": "canonical", "href": url} in tags.links
    assert "/archive" in tags.anchors and "/" in tags.anchors  # the way back, the site header
    body = response.text[response.text.index("<body") :]
    assert body.index("archive-bar") < body.index(digest.entries[0].item.title)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert client.get("/static/archive.css").status_code == 200


def test_an_archive_pages_card_is_a_png_of_open_graphs_size_cached_for_good(
    client: TestClient, world: ApiWorld
) -> None:
    key = sent_digests(world)[0]
    response = client.get(f"/cards/{key}/1-1200x630.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers["cache-control"]
    with Image.open(io.BytesIO(response.content)) as card:
        assert (card.format, card.size) == ("PNG", (1200, 630))
    # Drawn once, then read back from the store: the same bytes.
    assert world.ctx.store.share_card(key, 1, "1200x630") is not None
    assert client.get(f"/cards/{key}/1-1200x630.png").content == response.content


@pytest.mark.parametrize(
    "path",
    [
        "/cards/{key}/99-1200x630.png",  # no such entry
        "/cards/{key}/1-640x480.png",  # no such size
        "/cards/{key}/1-1200x630.jpg",
        "/cards/weekly:2031-W01/1-1200x630.png",  # no such digest
    ],
)
def test_a_card_that_is_not_there_is_a_404(client: TestClient, world: ApiWorld, path: str) -> None:
    key = sent_digests(world)[0]
    assert client.get(path.format(key=key)).status_code == 404


def test_a_digest_not_published_yet_shows_no_card(client: TestClient, world: ApiWorld) -> None:
    week = jobs.latest_week(world.ctx)
    assert week is not None
    digest = jobs.compose_weekly(world.ctx, week)
    world.ctx.store.save_digest(digest)  # stored, but not released to anyone
    assert client.get(f"/cards/{digest.key}/1-1200x630.png").status_code == 404


def test_the_index_names_its_feeds(client: TestClient) -> None:
    tags = HeadTags()
    tags.feed(client.get("/archive").text)
    types = {link.get("type") for link in tags.links if link.get("rel") == "alternate"}
    assert types == {"application/atom+xml", "application/feed+json"}
