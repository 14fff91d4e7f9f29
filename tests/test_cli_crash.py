"""A bug anywhere in a command: one line on the terminal, the traceback in a private file."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from digest import cli

REPO = Path(__file__).resolve().parent.parent


def test_a_crash_prints_one_line_naming_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(cli, "ingest_into", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings = tmp_path / "settings.yaml"
    settings.write_text((REPO / "settings.yaml").read_text())
    database = f"sqlite:///{tmp_path / 'd.db'}"
    code = cli.main(["--settings", str(settings), "--database", database, "ingest", "x.yaml"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    (report,) = tmp_path.glob("digest-crash-*.log")
    assert err == (
        "digest: digest ingest failed unexpectedly (RuntimeError: a bug); the full report is in "
        f"{report}, please send it to the maintainers\n"
    )
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "in broken" in text
    assert stat.S_IMODE(os.stat(report).st_mode) == 0o600
