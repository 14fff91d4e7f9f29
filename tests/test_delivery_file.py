"""The file adapters, reached through the registry as settings.yaml names them."""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from digest.delivery.email import email_adapter, email_adapter_types
from digest.delivery.social import social_adapter_types, social_adapters
from digest.delivery.social.base import Attempt
from digest.models import DeliveryStatus
from digest.render.email import EmailParts
from digest.render.message import OutgoingEmail, build_message
from digest.render.social import SocialPost
from digest.settings import Settings, parse_settings

REPO = Path(__file__).resolve().parent.parent


def settings_in(root: Path) -> Settings:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    return parse_settings(raw, where="settings.yaml", root=root)


def test_the_registry_finds_the_adapter_modules() -> None:
    assert "file" in email_adapter_types()
    assert "file" in social_adapter_types()


def message(key: str = "weekly:2026-W48/email/sub-001") -> OutgoingEmail:
    data = build_message(
        EmailParts(subject="The week in AI", text="Hello\n", html="<p>Hello</p>"),
        from_address="AMW Digest <digest@news.example.org>",
        to_name="Zoë Müller",
        to_address="zoe@example.com",
        message_id="<abc@news.example.org>",
        date=datetime(2026, 11, 30, 7, tzinfo=UTC),
        list_id="weekly.news.example.org",
        list_name="AMW Weekly",
        unsubscribe_url="https://news.example.org/unsubscribe/t",
        unsubscribe_mailto="mailto:unsubscribe@news.example.org?subject=unsubscribe%20t",
    )
    return OutgoingEmail(
        key, "<abc@news.example.org>", "digest@news.example.org", "zoe@example.com", data
    )


def test_file_email_writes_one_parseable_eml_per_message(tmp_path: Path) -> None:
    adapter = email_adapter(settings_in(tmp_path))
    result = adapter.send(message())
    files = list((tmp_path / "outbox" / "email").iterdir())
    assert [f.name for f in files] == ["weekly_2026-W48_email_sub-001.eml"]
    assert result.status is DeliveryStatus.SENT and result.provider_id == str(files[0])
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<abc@news.example.org>"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_file_email_redelivery_replaces_instead_of_adding(tmp_path: Path) -> None:
    adapter = email_adapter(settings_in(tmp_path))
    adapter.send(message())
    adapter.send(message())
    assert len(list((tmp_path / "outbox" / "email").iterdir())) == 1


def post(key: str = "item:a") -> SocialPost:
    return SocialPost(
        digest_key="weekly:2026-W48",
        key=key,
        platform="x",
        text="🇸🇪 Title\n\nhttps://example.com/a\n\n#MistralAI",
        url="https://example.com/a",
        hashtags=("MistralAI",),
        length=50,
        limit=280,
    )


def test_file_social_writes_one_json_line_per_post_per_channel(tmp_path: Path) -> None:
    adapters = social_adapters(settings_in(tmp_path))
    assert sorted(adapters) == ["bluesky", "linkedin", "mastodon", "threads", "x"]
    slot = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    adapters["x"].post(post("item:a"), "k1", attempt=Attempt(scheduled_for=slot))
    adapters["x"].post(post("item:b"), "k2", attempt=Attempt(scheduled_for=slot))
    lines = (tmp_path / "outbox" / "social" / "x.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["post"] for r in records] == ["item:a", "item:b"]
    assert records[0] == {
        "key": "k1",
        "channel": "x",
        "platform": "x",
        "digest": "weekly:2026-W48",
        "post": "item:a",
        "scheduled_for": "2026-12-01T09:00:00+01:00",  # its slot, in the site's time zone
        "text": "🇸🇪 Title\n\nhttps://example.com/a\n\n#MistralAI",
        "url": "https://example.com/a",
        "hashtags": ["MistralAI"],
        "length": 50,
        "limit": 280,
    }


def test_file_social_never_writes_a_post_twice_even_after_a_restart(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    social_adapters(settings)["x"].post(post(), "k1")
    # A new process (a restart after a crash) redelivers the same row.
    result = social_adapters(settings)["x"].post(post(), "k1")
    assert result.status is DeliveryStatus.SENT
    assert len((tmp_path / "outbox" / "social" / "x.jsonl").read_text().splitlines()) == 1


def test_file_social_writes_the_card_beside_the_lines_and_names_it(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nthe card"
    stored = {"cards/weekly:2026-W48/1-1200x675.png": (png, "Title. 🇸🇪 Mistral AI")}
    adapters = social_adapters(settings_in(tmp_path), cards=stored.get)
    pictured = replace(
        post(), image="cards/weekly:2026-W48/1-1200x675.png", image_url="https://cdn.example/a.jpg"
    )
    adapters["x"].post(pictured, "k1")
    adapters["mastodon"].post(pictured, "k2")
    social = tmp_path / "outbox" / "social"
    for channel in ("x", "mastodon"):
        (record,) = [json.loads(line) for line in (social / f"{channel}.jsonl").open()]
        # A path relative to the JSONL file, without the colons no file system takes everywhere.
        assert record["image"] == "cards/weekly-2026-W48/1-1200x675.png"
        assert (social / record["image"]).read_bytes() == png
        assert record["image_alt"] == "Title. 🇸🇪 Mistral AI"
        assert record["image_url"] == "https://cdn.example/a.jpg"
    assert [path.name for path in (social / "cards").rglob("*") if path.is_file()] == [
        "1-1200x675.png"  # one file for every channel, no partial file left behind
    ]


def test_file_social_writes_bluesky_records_in_the_posts_language_with_its_links() -> None:
    tracked = "https://news.example.org/r/abc.def"
    chinese = SocialPost(
        digest_key="weekly:2026-W48",
        key="item:qwen",
        platform="bluesky",
        text="🇨🇳 阿里巴巴发布通义千问4\n\nnews.example.org/r/abc.def\n\n#Qwen",
        url=tracked,
        hashtags=("Qwen",),
        length=40,
        limit=300,
        links=(tracked,),
        language="zh",
    )
    adapter = social_adapters(settings_in(Path("/nonexistent")))["bluesky"]
    record = adapter.record(chinese, "k1")["record"]
    assert record["langs"] == ["zh"]
    link = record["facets"][0]
    assert link["features"][0]["uri"] == tracked
    shown = chinese.text.encode()[link["index"]["byteStart"] : link["index"]["byteEnd"]]
    assert shown.decode() == "news.example.org/r/abc.def"
