"""Subscriber list files written by `export` read back as the subscribers they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import InputError
from digest.ingest import read_subscriber_files, read_subscribers
from digest.ingest.subscribers import subscribers_csv, write_subscribers
from digest.models import Preferences, Subscriber, SubscriberStatus

REPO = Path(__file__).resolve().parent.parent
ODD = (
    Subscriber(id="o1", email="=cmd@example.com", name='=HYPERLINK("http://evil")'),
    Subscriber(
        id="o2",
        email="q@example.com",
        name='Doe, "Jo" 李娜',
        status=SubscriberStatus.UNSUBSCRIBED,
        timezone="Asia/Shanghai",
        preferences=Preferences(
            weekly=False,
            companies=("mistral-ai", "openai"),
            topics=("Geopolitics", "Compute Economics"),
            send_hour=0,
            format="text",
        ),
    ),
    Subscriber(id="o3", email="plus+tag@example.com", name="-minus @at +plus"),
)


@pytest.mark.parametrize("suffix", [".csv", ".yaml", ".yml"])
def test_an_export_reads_back_as_it_was(tmp_path: Path, suffix: str) -> None:
    sample = read_subscribers(REPO / "subscribers" / "sample.csv")
    everyone = (*sample, *ODD)
    path = tmp_path / f"export{suffix}"
    assert write_subscribers(path, everyone) == len(everyone)
    assert read_subscribers(path) == everyone


def test_a_cell_a_spreadsheet_would_run_is_written_inert() -> None:
    lines = subscribers_csv(ODD).splitlines()
    assert (
        lines[1] == 'o1,\'=cmd@example.com,"\'=HYPERLINK(""http://evil"")",,,active,,true,,,,html'
    )
    assert lines[3].startswith("o3,plus+tag@example.com,'-minus @at +plus,")


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"use a \.csv, \.yaml or \.yml file"):
        write_subscribers(tmp_path / "list.xlsx", ODD)
    assert list(tmp_path.iterdir()) == []


def test_two_files_are_read_as_one_list(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.yaml"
    first.write_text("id,email\nx1,one@example.com\nx2,two@example.com\n", encoding="utf-8")
    second.write_text(
        "subscribers:\n  - {id: x3, email: ONE@example.com}\n  - {id: x2, email: t@example.com}\n"
        "  - {id: x4, email: not-an-address}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        read_subscriber_files([first, second])
    lines = [str(problem) for problem in caught.value.problems]
    assert lines == [
        f'{second}:subscribers[0]: email: "ONE@example.com" is already at {first}:row 2; '
        "keep one row per address",
        f'{second}:subscribers[1]: id: duplicate id "x2"; the first is at {first}:row 3',
        f'{second}:subscribers[2]: email: "not-an-address" must have exactly one "@"; '
        "write it as name@example.com",
    ]
