"""The command line end to end: the demo, ingest's all-or-nothing, exit codes."""

from __future__ import annotations

import email
import email.policy
import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from PIL import Image

from digest.cli import main
from digest.compose import IsoWeek
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "digest" / "data" / "sample.yaml"
WEDNESDAY_OF_W49 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # the week after the sample's


def table_dump(database: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            t: sorted(connection.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
            for t in tables
        }


def test_demo_delivers_everything_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "weekly:2026-W48" in summary and "company:mistral-ai:2026-W48" in summary
    schedule = summary.split("posting schedule")[1].split("delivered this run")[0]
    assert schedule.count(" company:mistral-ai:2026-W48 company:mistral-ai") == 5  # per channel
    assert "  linkedin:\n" in schedule and (" EST " in schedule or " EDT " in schedule)
    # Every message went at once; the summary says when each would have been due.
    assert "at each subscriber's local hour they would have been due:" in summary
    due = re.findall(r"^  \w{3} \d{4}-\d\d-\d\d \d\d:00 CES?T: (\d+) emails? due$", summary, re.M)
    assert len(due) > 5

    emails = sorted((out / "outbox" / "email").glob("*.eml"))
    assert len(emails) > 25
    ids = set()
    for path in emails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        ids.add(message["Message-ID"])
        if message.is_multipart():
            assert [p.get_content_type() for p in message.iter_parts()] == [
                "text/plain",
                "text/html",
            ]
    assert len(ids) == len(emails)

    channels = sorted(p.stem for p in (out / "outbox" / "social").glob("*.jsonl"))
    assert channels == ["bluesky", "linkedin", "mastodon", "threads", "x"]
    for channel in channels:
        posts = [
            json.loads(line) for line in (out / "outbox" / "social" / f"{channel}.jsonl").open()
        ]
        items = [post for post in posts if post["post"].startswith("item:")]
        assert len(items) == 10  # one per top item of the weekly digest
        assert posts[len(items)]["post"] == "top"  # then its "top stories" post or thread
        assert all(post["length"] <= post["limit"] for post in posts)
        for post in posts:  # Bluesky shows links shortened, as its app does: the facet has it
            facets = post["record"].get("facets", []) if channel == "bluesky" else []
            linked = {feature.get("uri") for f in facets for feature in f["features"]}
            assert post["url"] in post["text"] or post["url"] in linked
        # Written at once, each to be published in its own slot: no two at one time.
        times = [datetime.fromisoformat(post["scheduled_for"]) for post in posts]
        assert all(moment.utcoffset() is not None for moment in times)
        assert len(set(times)) == len(posts)
        assert times[: len(items)] == sorted(times[: len(items)])  # the best story first
        if channel == "bluesky":
            assert all("facets" in post["record"] for post in posts)
        # Every post shows its card: a PNG beside the lines.
        for post in posts:
            with Image.open(out / "outbox" / "social" / post["image"]) as card:
                assert (card.format, card.size) == ("PNG", (1200, 675))
    assert (out / "preview" / "weekly-2026-W48.html").exists()
    assert (out / "preview" / "company-mistral-ai-2026-W48.txt").exists()

    before = {
        path: path.stat().st_mtime_ns for path in (out / "outbox").rglob("*") if path.is_file()
    }
    assert main(["demo", "--out", str(out)]) == 0
    assert "nothing (all delivered before)" in capsys.readouterr().out
    after = {
        path: path.stat().st_mtime_ns for path in (out / "outbox").rglob("*") if path.is_file()
    }
    assert after == before


def settings_for(tmp_path: Path) -> Path:
    settings = tmp_path / "settings.yaml"
    settings.write_text((REPO / "settings.yaml").read_text())
    return settings


def cli_args(settings: Path) -> list[str]:
    """--settings, and a SQLite store beside it."""
    return ["--settings", str(settings), "--database", f"sqlite:///{settings.parent / 'digest.db'}"]


def load_sample(args: list[str]) -> None:
    assert main([*args, "ingest", str(SAMPLE)]) == 0
    assert main([*args, "subscribers", "import", str(REPO / "subscribers" / "sample.csv")]) == 0


def test_bad_input_exits_2_names_each_problem_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    database = tmp_path / "digest.db"
    args = cli_args(settings)
    assert main([*args, "ingest", str(SAMPLE)]) == 0
    capsys.readouterr()
    before = table_dump(database)

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "items:\n"
        "  - id: new-item\n"
        "    title: A new item\n"
        "    summary: Fine.\n"
        "    url: https://example.com/new\n"
        "    published_at: 2026-11-28T10:00:00\n"
        "    companies: [mistral-ai]\n"
        "    category: Product\n"
        "    countries: [XX]\n"
    )
    assert main([*args, "ingest", str(SAMPLE), str(bad)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"{bad}:items[0]: published_at:") for line in errors)
    assert any(line.startswith(f"{bad}:items[0]: countries") for line in errors)
    assert table_dump(database) == before


def test_ingesting_again_updates_and_never_duplicates(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    database = tmp_path / "digest.db"
    args = cli_args(settings)
    assert main([*args, "ingest", str(SAMPLE)]) == 0
    first = table_dump(database)
    assert main([*args, "ingest", str(SAMPLE)]) == 0
    second = table_dump(database)
    assert len(second["items"]) == len(first["items"]) >= 60
    assert len(second["reads"]) == len(first["reads"])


def test_broken_settings_exit_2_naming_the_key(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    settings.write_text(settings.read_text().replace("  port: 8000", "  prot: 8000"))
    result = subprocess.run(
        [sys.executable, "-m", "digest", "--settings", str(settings), "ingest", str(SAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"{settings}: web.prot: unknown key, did you mean port?"


def test_build_send_dry_run_and_social_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    args = cli_args(settings)
    load_sample(args)
    capsys.readouterr()

    assert (
        main([*args, "build", "company", "--company", "deepseek", "--out", str(tmp_path / "b")])
        == 0
    )
    assert (tmp_path / "b" / "company-deepseek-2026-W48.html").exists()

    assert main([*args, "send", "weekly", "--week", "2026-W47", "--dry-run"]) == 0
    assert "weekly:2026-W47: would plan" in capsys.readouterr().out
    assert not (tmp_path / "outbox").exists()

    assert main([*args, "social", "--week", "2026-W48", "--platform", "bluesky", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("── bluesky (bluesky) item:") == 10
    assert printed.count(" CET\n") + printed.count(" CEST\n") == printed.count("── ")  # slots
    assert "── bluesky (bluesky) top: " in printed  # the weekly "top stories" thread
    assert "/300" in printed and "OVER THE LIMIT" not in printed

    assert (
        main([*args, "social", "--week", "2026-W48", "--company", "mistral-ai", "--dry-run"]) == 0
    )
    printed = capsys.readouterr().out
    assert printed.count("company:mistral-ai: ") == 5  # one post per channel
    assert "#MistralAI" in printed


def test_send_reports_progress_and_exits_1_when_a_row_failed_and_a_worker_delivers_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml
    from smtp_sink import Recorder, smtp_server

    from digest import outbox
    from digest.store import Store

    recorder = Recorder(replies={"zoe.mueller@example.com": "550 5.1.1 No such user"})
    with smtp_server(recorder=recorder) as server:
        raw = yaml.safe_load((REPO / "settings.yaml").read_text())
        raw["email"] = {
            "type": "smtp",
            "options": {"host": server.host, "port": server.port, "security": "none"},
        }
        raw["social"] = []
        settings = tmp_path / "settings.yaml"
        settings.write_text(yaml.safe_dump(raw, allow_unicode=True))
        database = f"sqlite:///{tmp_path / 'digest.db'}"
        args = ["--settings", str(settings), "--database", database]
        assert main([*args, "ingest", str(SAMPLE)]) == 0
        assert main([*args, "subscribers", "import", str(REPO / "subscribers" / "sample.csv")]) == 0
        capsys.readouterr()

        assert main([*args, "send", "weekly", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "would plan" in out and recorder.received == []
        with Store.open(database) as store:
            assert outbox.state_counts(store.engine) == {}  # a dry run plans nothing

        # Every email now, whatever the hour: this test is about delivery, not timing.
        assert main([*args, "send", "weekly", "--now"]) == 1  # one address refused for good
        out = capsys.readouterr().out
        assert "delivering:" in out and "1 failed" in out
        sent = len(recorder.received)
        assert sent > 0

        assert main([*args, "worker", "--once"]) == 0  # nothing left to do
        assert len(recorder.received) == sent


@time_machine.travel(WEDNESDAY_OF_W49, tick=False)
def test_sending_never_defaults_to_a_week_still_in_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    args = cli_args(settings)
    now = WEDNESDAY_OF_W49 - timedelta(minutes=1)
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(
        "items:\n"
        "  - id: breaking-now\n"
        "    title: Something happened a minute ago\n"
        "    summary: Still unfolding.\n"
        "    url: https://example.com/news/breaking-now\n"
        f"    published_at: '{now.isoformat()}'\n"
        "    companies: [mistral-ai]\n"
        "    category: Product\n"
    )
    assert main([*args, "ingest", str(SAMPLE), str(fresh)]) == 0
    capsys.readouterr()
    paris = ZoneInfo("Europe/Paris")
    assert main([*args, "send", "weekly", "--dry-run"]) == 0
    expected = IsoWeek.containing(now, paris).previous()
    assert capsys.readouterr().out.startswith(f"weekly:{expected}: would plan")
    assert main([*args, "build", "weekly", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / f"weekly-{IsoWeek.containing(now, paris)}.html").exists()


@time_machine.travel(WEDNESDAY_OF_W49, tick=False)
def test_the_demo_runs_again_after_someone_unsubscribed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    with Store.open(f"sqlite:///{out / 'digest.db'}") as store:
        store.unsubscribe("sub-004", WEDNESDAY_OF_W49)
    capsys.readouterr()
    assert main(["demo", "--out", str(out)]) == 0
    assert "nothing (all delivered before)" in capsys.readouterr().out
    with Store.open(f"sqlite:///{out / 'digest.db'}") as store:
        subscriber = store.subscriber("sub-004")
    assert subscriber is not None and subscriber.status == "unsubscribed"


def test_a_mistyped_company_or_platform_is_an_error_not_an_empty_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    args = cli_args(settings)
    assert main([*args, "ingest", str(SAMPLE)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "items: 73 new, 0 updated, 0 unchanged"
    assert main([*args, "send", "company", "--company", "nvdia", "--dry-run"]) == 2
    assert (
        capsys.readouterr().err.strip() == '--company: no company "nvdia"; did you mean "nvidia"?'
    )
    assert main([*args, "social", "--company", "nvdia", "--dry-run"]) == 2
    with pytest.raises(SystemExit) as exit_code:
        main([*args, "social", "--platform", "twitter", "--dry-run"])
    assert exit_code.value.code == 2
    assert "invalid choice: 'twitter'" in capsys.readouterr().err


def test_a_mistyped_email_adapter_stops_send_before_anything_is_planned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    settings.write_text(settings.read_text().replace("  type: file", "  type: fiel", 1))
    database = tmp_path / "digest.db"
    args = cli_args(settings)
    load_sample(args)
    capsys.readouterr()
    assert main([*args, "send", "weekly", "--week", "2026-W48"]) == 2
    assert "email.type: unknown adapter 'fiel'; choose one of" in capsys.readouterr().err
    assert table_dump(database)["deliveries"] == []


def test_a_week_with_no_news_sends_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    database = tmp_path / "digest.db"
    args = cli_args(settings)
    load_sample(args)
    capsys.readouterr()
    assert main([*args, "send", "weekly", "--week", "2027-W10"]) == 0
    assert "weekly:2027-W10: not planned: no news in its week" in capsys.readouterr().out
    assert table_dump(database)["deliveries"] == []
    assert table_dump(database)["digests"] == []


def test_delivering_with_the_shipped_secret_key_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_SECRET_KEY", raising=False)
    settings = settings_for(tmp_path)
    args = cli_args(settings)
    assert main([*args, "worker", "--once"]) == 0
    assert "site.secret_key is the default" in caplog.text
    caplog.clear()
    monkeypatch.setenv("DIGEST_SECRET_KEY", "a-real-secret-from-the-environment")
    assert main([*args, "worker", "--once"]) == 0
    assert "site.secret_key is the default" not in caplog.text


def test_a_real_email_adapter_needs_the_postal_address_before_anything_is_planned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    text = settings.read_text()
    address = '  postal_address: "AMW Media SAS, 12 rue du Sentier, 75002 Paris, France"\n'
    assert address in text
    smtp = "  type: smtp\n  options: {host: 127.0.0.1, port: 2525}\n"
    settings.write_text(
        text.replace(address, "").replace(
            "  type: file\n  options: {directory: outbox/email}\n", smtp
        )
    )
    args = cli_args(settings)
    load_sample(args)
    capsys.readouterr()
    for command in (["send", "weekly", "--week", "2026-W48"], ["worker", "--once"]):
        assert main([*args, *command]) == 2
        error = capsys.readouterr().err
        assert "site.postal_address: required to send through the smtp adapter" in error
        assert "postal_address: " in error  # what to write
    assert table_dump(tmp_path / "digest.db")["deliveries"] == []
