"""read_sources on RSS, Atom and JSON Feed (fixtures in tests/data/ingest/)."""

# Tables of exact problem lines read best one case to a line.
# ruff: noqa: E501

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from digest.errors import InputError
from digest.ingest import read_sources

DATA = Path(__file__).parent / "data" / "ingest"
CET = timezone(timedelta(hours=1))
RFC822 = "write it as Fri, 27 Nov 2026 09:30:00 +0100"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for fixture in DATA.iterdir():
        shutil.copy(fixture, tmp_path)
    monkeypatch.chdir(tmp_path)


def rss(*items: str) -> str:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    )


def entry(**overrides: str | None) -> str:
    parts = {
        "guid": '<guid isPermaLink="false">x1</guid>',
        "title": "<title>Mistral opens a Swedish data centre</title>",
        "link": "<link>https://example.com/x1</link>",
        "description": "<description>Sovereign compute.</description>",
        "pubDate": "<pubDate>Fri, 27 Nov 2026 09:30:00 +0100</pubDate>",
        "category": "<category>mistral-ai</category><category>Expansion</category>",
    }
    for name, value in overrides.items():
        parts[name] = value or ""
    return "".join(parts.values())


def problems(*names: str, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_sources(list(names), **kwargs)  # type: ignore[arg-type]
    return [str(problem) for problem in caught.value.problems]


def test_rss_entries_become_items() -> None:
    batch = read_sources(["companies.yaml", "news.rss"])
    assert [company.slug for company in batch.companies] == ["mistral-ai"]
    first, second = batch.items
    assert first.id == "https://example.com/news/mistral-sweden"
    assert first.title == "Mistral AI & EcoDataCenter: 1.2 billion euros for Swedish data centres"
    # HTML in a description is reduced to its text: summaries are text everywhere downstream.
    assert first.summary == "Mistral AI is investing 1.2 billion euros in Swedish data centres."
    assert first.url == "https://example.com/news/mistral-sweden"
    assert first.published_at == datetime(2026, 11, 27, 9, 30, tzinfo=CET)
    assert first.companies == ("mistral-ai",)
    assert first.category == "Expansion"
    assert first.topics == ("Compute Economics", "Geopolitics")
    assert second.published_at == datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    assert second.companies == ("mistral-ai",)
    assert (second.category, second.topics) == ("Funding", ())


def test_atom_entries_become_items() -> None:
    (item,) = read_sources(["news.atom"], known_companies={"deepseek"}).items
    assert item.id == "urn:uuid:7d1c6c0e-6f7b-4c5e-9d7e-0f1b2c3d4e5f"
    assert item.title == "DeepSeek cuts V4-Pro API price"
    assert item.summary == "The promotional price becomes permanent."
    assert item.url == "https://example.com/news/deepseek-price"
    assert item.published_at == datetime(2026, 11, 26, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert (item.companies, item.category, item.topics) == (("deepseek",), "Pricing", ())


def test_companies_may_come_from_another_source_of_the_same_call() -> None:
    Path("deepseek.yaml").write_text(
        "companies:\n"
        "  - {slug: deepseek, name: DeepSeek, sector: LLMs, country: CN, hashtag: DeepSeek}\n",
        encoding="utf-8",
    )
    batch = read_sources(["news.atom", "deepseek.yaml"])
    assert batch.items[0].companies == ("deepseek",)


FEED_CASES = [
    (entry(pubDate="<pubDate>Fri, 27 Nov 2026 09:30:00</pubDate>"),
     'published_at: "Fri, 27 Nov 2026 09:30:00" has no time zone; ' + RFC822),
    (entry(pubDate="<pubDate>Fri, 27 Nov 2026 09:30:00 -0000</pubDate>"),
     'published_at: "Fri, 27 Nov 2026 09:30:00 -0000" has no time zone; ' + RFC822),
    (entry(pubDate="<pubDate>last Friday</pubDate>"),
     'published_at: "last Friday" is not a date; ' + RFC822),
    (entry(pubDate=None),
     "published_at: missing; give the entry a <pubDate> (RSS) or <published> (Atom)"),
    (entry(guid=None), "id: missing; give the entry a <guid> (RSS) or an <id> (Atom)"),
    (entry(title=None), "title: missing; give the entry a <title>"),
    (entry(description=None),
     "summary: missing; give the entry a <description> (RSS) or a <summary> (Atom)"),
    (entry(link=None), "url: missing; give the entry a <link>"),
    (entry(link="<link>javascript:alert(1)</link>"),
     'url: must be an http(s) URL, got "javascript:alert(1)"'),
    (entry(category="<category>Expansion</category>"),
     "companies: no <category> names a known company; add one with the company's slug"),
    (entry(category="<category>mistral-ai</category>"),
     "category: missing; add a <category> besides the company slugs, e.g. Expansion"),
]  # fmt: skip


@pytest.mark.parametrize(("item", "expected"), FEED_CASES)
def test_feed_entry_problem(item: str, expected: str) -> None:
    Path("feed.xml").write_text(rss(item), encoding="utf-8")
    assert problems("feed.xml", known_companies={"mistral-ai"}) == [
        f"feed.xml:entries[0]: {expected}"
    ]


def test_entries_are_named_in_order() -> None:
    good = entry()
    bad = entry(guid="<guid>x2</guid>", pubDate="<pubDate>Fri, 27 Nov 2026 09:30:00</pubDate>")
    Path("feed.rss").write_text(rss(good, good, bad), encoding="utf-8")
    assert problems("feed.rss", known_companies={"mistral-ai"}) == [
        'feed.rss:entries[1]: id: duplicate id "x1"; the first is at feed.rss:entries[0]',
        'feed.rss:entries[2]: published_at: "Fri, 27 Nov 2026 09:30:00" has no time zone; '
        + RFC822,
    ]


@pytest.mark.parametrize("declaration", ["", '<?xml version="1.0" encoding="utf-8"?>\n'])
def test_malformed_xml_names_the_line(declaration: str) -> None:
    text = declaration + "<rss>\n<channel>\n<item><title>x</item>"
    Path("feed.xml").write_text(text, encoding="utf-8")
    line = text.count("\n") + 1
    assert problems("feed.xml") == [
        f"feed.xml:line {line}: not a valid RSS or Atom feed: mismatched tag"
    ]


def test_xml_that_is_no_feed() -> None:
    Path("feed.xml").write_text("<?xml version='1.0'?><html><p>hi</p></html>", encoding="utf-8")
    assert problems("feed.xml") == ["feed.xml: not an RSS or Atom feed"]


def test_an_atom_entry_about_a_source_keeps_its_own_page_too() -> None:
    Path("related.atom").write_text(
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>T</title><id>urn:t</id><updated>2026-11-27T09:30:00+01:00</updated><entry>"
        "<id>urn:x1</id><title>Mistral opens a data centre</title><summary>Compute.</summary>"
        '<link rel="alternate" href="https://news.example.org/news/x1"/>'
        '<link rel="related" href="https://dcnnmagazine.com/x1"/>'
        "<updated>2026-11-27T09:30:00+01:00</updated>"
        '<category term="mistral-ai"/><category term="Expansion"/></entry></feed>',
        encoding="utf-8",
    )
    (item,) = read_sources(["related.atom"], known_companies={"mistral-ai"}).items
    assert (item.url, item.page_url) == (
        "https://dcnnmagazine.com/x1",
        "https://news.example.org/news/x1",
    )


JSON_FEED_ITEM = {
    "id": "https://news.example.org/news/x1",
    "url": "https://news.example.org/news/x1",
    "external_url": "https://dcnnmagazine.com/x1",
    "title": "Mistral opens a Swedish data centre",
    "content_html": "<p>Sovereign <b>compute</b>.</p><p>In 2027.</p>",
    "date_published": "2026-11-27T09:30:00+01:00",
    "image": "https://news.example.org/img/x1.jpg",
    "tags": ["mistral-ai", "Expansion", "Compute Economics"],
}


def json_feed(*items: dict[str, object]) -> str:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "News", "items": list(items)}
    Path("feed.json").write_text(json.dumps(feed), encoding="utf-8")
    return "feed.json"


def test_json_feed_items_become_items() -> None:
    (item,) = read_sources([json_feed(JSON_FEED_ITEM)], known_companies={"mistral-ai"}).items
    assert item.id == "https://news.example.org/news/x1"
    assert (item.url, item.page_url) == (
        "https://dcnnmagazine.com/x1",
        "https://news.example.org/news/x1",
    )
    assert item.summary == "Sovereign compute. In 2027."
    assert item.published_at == datetime(2026, 11, 27, 9, 30, tzinfo=CET)
    assert item.image_url == "https://news.example.org/img/x1.jpg"
    assert (item.companies, item.category, item.topics) == (
        ("mistral-ai",),
        "Expansion",
        ("Compute Economics",),
    )


def test_json_feed_without_external_url_and_with_a_number_for_id() -> None:
    entry = {**JSON_FEED_ITEM, "id": 42, "summary": "Short.", "external_url": None}
    del entry["external_url"]
    (item,) = read_sources([json_feed(entry)], known_companies={"mistral-ai"}).items
    assert (item.id, item.url, item.page_url) == ("42", JSON_FEED_ITEM["url"], None)
    assert item.summary == "Short."


JSON_FEED_CASES = [
    ({"id": None}, 'id: missing; give the item an "id"'),
    ({"content_html": None}, 'summary: missing; give the item a "summary", "content_text" or "content_html"'),
    ({"url": None, "external_url": None}, 'url: missing; give the item a "url" (or an "external_url")'),
    ({"date_published": None}, 'published_at: missing; give the item a "date_published"'),
    ({"date_published": "27 Nov 2026"},
     'published_at: "27 Nov 2026" is not an ISO 8601 date and time; write it as 2026-11-27T09:30:00+01:00'),
    ({"tags": ["Expansion"]}, "companies: no tag names a known company; add one with the company's slug to \"tags\""),
    ({"image": "data:x"}, 'image_url: must be an http(s) URL, got "data:x"'),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "expected"), JSON_FEED_CASES)
def test_json_feed_item_problem(changes: dict[str, object], expected: str) -> None:
    entry = {
        key: value for key, value in {**JSON_FEED_ITEM, **changes}.items() if value is not None
    }
    assert problems(json_feed(entry), known_companies={"mistral-ai"}) == [
        f"feed.json:items[0]: {expected}"
    ]


def test_a_json_feed_without_items() -> None:
    Path("feed.json").write_text('{"version": "https://jsonfeed.org/version/1.1", "items": 3}')
    assert problems("feed.json") == ["feed.json: items: must be a list, got a number (3)"]
