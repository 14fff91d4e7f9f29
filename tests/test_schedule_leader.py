"""One scheduler at a time: on PostgreSQL the daemon holding the advisory lock runs the jobs and
another stands by, taking over within seconds of the leader's SIGKILL; on SQLite a second daemon
refuses to start, saying why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from digest.cli import main
from digest.schedule.leader import SqliteLeadership
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
LEADS = "this scheduler runs the jobs"
STANDS_BY = "standing by to take over"


def test_a_second_scheduler_on_sqlite_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "digest.db"
    Store.open(f"sqlite:///{database}").close()
    running = SqliteLeadership(database)
    running.take()  # the first daemon
    try:
        args = ["--settings", str(REPO / "settings.yaml"), "--database", f"sqlite:///{database}"]
        assert main([*args, "schedule"]) == 2
    finally:
        running.release()
    error = capsys.readouterr().err
    assert f"another `digest schedule` is running on this database (process {os.getpid()}" in error
    assert "stop it before starting this one" in error


class Daemon:
    """A `digest schedule` process, its log lines read as they come."""

    def __init__(self, settings: Path, database_url: str) -> None:
        command = [
            sys.executable, "-m", "digest", "--settings", str(settings),
            "--database", database_url, "schedule",
        ]  # fmt: skip
        # The daemons keep the real clock: under CI's libfaketime run a timed wait (Event.wait,
        # as the standby's) sleeps to a deadline on the faked clock, that is never. Which daemon
        # leads does not depend on the date.
        real_clock = {
            k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and "FAKETIME" not in k
        }
        self.process = subprocess.Popen(
            command, stderr=subprocess.PIPE, text=True, env={**real_clock, "PYTHONUNBUFFERED": "1"}
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def said(self, words: str) -> bool:
        return any(words in line for line in self.lines)

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_one_scheduler_leads_on_postgresql_and_another_takes_over_after_a_sigkill(
    database_url: str, tmp_path: Path
) -> None:
    Store.open(database_url).close()
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["social"] = []
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump(raw, allow_unicode=True))
    daemons = [Daemon(settings, database_url), Daemon(settings, database_url)]
    try:
        assert wait_for(lambda: all(d.said(LEADS) or d.said(STANDS_BY) for d in daemons), 90), [
            d.lines for d in daemons
        ]
        leaders = [d for d in daemons if d.said(LEADS)]
        assert len(leaders) == 1, [d.lines for d in daemons]
        (leader,) = leaders
        (standby,) = [d for d in daemons if d is not leader]
        leader.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert wait_for(lambda: standby.said(LEADS), 30), standby.lines
        assert time.monotonic() - killed <= 30
        assert standby.process.poll() is None
    finally:
        for daemon in daemons:
            daemon.end()
