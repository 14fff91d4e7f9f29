"""`digest report`: the figures of a delivered digest, in words and as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from digest.cli import main
from digest.engagement import HitRecorder, Link
from digest.settings import load_settings
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
KEY = "weekly:2026-W48"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's store, with clicks on the weekly digest: 3 readers, 2 scanners, 1 prefetch."""
    out = tmp_path_factory.mktemp("report")
    assert main(["demo", "--out", str(out)]) == 0
    url = f"sqlite:///{out / 'digest.db'}"
    store = Store.open(url)
    sent = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    settings = load_settings(REPO / "settings.yaml")
    digest = store.load_digest(KEY)
    assert digest is not None
    item = digest.entries[0].item
    recorder = HitRecorder(
        store.engine, settings.site, settings.tracking, lambda: sent + timedelta(hours=2)
    )
    click = Link("click", KEY, "email", f"item:{item.id}", item.url, int(sent.timestamp()))
    pixel = Link("open", KEY, "email", "open", "", int(sent.timestamp()))
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        recorder.record(click, None, method="GET", user_agent=BROWSER, address=address)
    recorder.record(click, None, method="HEAD", user_agent=BROWSER, address="192.0.2.1")
    recorder.record(click, None, method="GET", user_agent="curl/8.5.0", address="192.0.2.2")
    recorder.record(pixel, None, method="GET", user_agent="Mozilla/5.0", address="17.1.2.3")
    recorder.flush(everything=True)
    store.close()
    yield url


def report(url: str, *args: str) -> list[str]:
    return ["--settings", str(REPO / "settings.yaml"), "--database", url, "report", *args]


def test_the_report_says_in_words_what_readers_and_scanners_did(
    delivered: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(report(delivered, KEY)) == 0
    text = capsys.readouterr().out
    store = Store.open(delivered)
    digest = store.load_digest(KEY)
    store.close()
    assert digest is not None
    assert text.startswith(f"{KEY}: {digest.title}")
    assert "emails delivered; 3 unique readers (estimated)" in text
    assert "clicks: 3 by readers, 2 by scanners and bots (not counted as readers)" in text
    assert "Apple Mail prefetches: 1 (not reads)" in text
    assert digest.entries[0].item.title[:40] in text
    assert "{" not in text  # words, never a Python dict


def test_the_csv_has_every_table_and_one_alone_with_table(
    delivered: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(report(delivered, KEY, "--csv")) == 0
    whole = capsys.readouterr().out
    assert [line for line in whole.splitlines() if line.startswith("# ")] == [
        "# summary",
        "# links",
        "# channels",
    ]
    assert main(report(delivered, KEY, "--csv", "--table", "links")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [
        (row["channel"], row["clicks by readers"], row["clicks by scanners"]) for row in rows
    ] == [("email", "3", "2")]
    assert main(report(delivered, KEY, "--csv", "--table", "channels")) == 0
    channels = {row["channel"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert next(iter(channels)) == "email" and {"x", "mastodon", "bluesky"} <= set(channels)
    assert int(channels["email"]["delivered"]) > 10
    assert channels["email"]["unique readers (estimated)"] == "3"
    assert int(channels["x"]["delivered"]) > 1  # posts published on the channel


def test_an_unknown_digest_is_bad_input_with_a_suggestion(
    delivered: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(report(delivered, "weekly:2026-W84")) == 2
    assert 'did you mean "weekly:2026-W48"?' in capsys.readouterr().err


@time_machine.travel(datetime(2026, 12, 2, 10, 0, tzinfo=UTC), tick=False)  # W49
def test_without_a_digest_the_report_covers_the_last_weeks(
    delivered: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(report(delivered, "--csv", "--table", "digests")) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][2:] == [
        "emails delivered",
        "unique readers (estimated)",
        "clicks by readers",
        "clicks by scanners",
    ]
    weekly = next(row for row in rows if row[0] == KEY)
    assert weekly[3:] == ["3", "3", "2"]
    assert main(report(delivered, "--csv", "--table", "channel_weeks")) == 0
    weeks = capsys.readouterr().out.splitlines()
    assert weeks[0] == "week,email" and len(weeks) == 13 and weeks[-1] == "2026-W49,3"
    assert main(report(delivered)) == 0
    words = capsys.readouterr().out
    assert words.startswith("Digests\n") and "Clicks by readers per channel, per week" in words
    # A digest's table asked of the last weeks says which there are.
    assert main(report(delivered, "--csv", "--table", "links")) == 2
    assert "choose one of digests, company_weeks, channel_weeks" in capsys.readouterr().err
