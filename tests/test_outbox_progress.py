"""The progress of a send: a bar with sent, failed, rate and time left on a terminal; plain log
lines elsewhere; a summary at the end."""

from __future__ import annotations

import io
import logging

import pytest

from digest.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_sent_failed_rate_and_time_left() -> None:
    now = [0.0]
    screen = Terminal()
    progress = Progress("delivering", 4, stream=screen, clock=lambda: now[0])
    for failed in (False, True, False):
        now[0] += 0.5
        progress.advance(failed=failed)
    line = screen.getvalue().split("\r")[-1]
    assert "3/4" in line and "sent 2" in line and "failed 1" in line
    assert "2/s 0s left" in line  # 3 in 1.5 s; the last one due in half a second
    now[0] += 0.5
    progress.advance()
    assert progress.summary() == ("delivering: 4 in 2.0s (2/s), 3 delivered or skipped, 1 failed")
    assert screen.getvalue().endswith("\n")  # the bar's line is ended before the summary


def test_elsewhere_it_logs_plain_lines(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    pipe = io.StringIO()
    progress = Progress("delivering", 2500, stream=pipe, every=1000, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="digest"):
        for _ in range(2500):
            now[0] += 0.001
            progress.advance()
    assert pipe.getvalue() == ""  # no bar drawn into a file or a pipe
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3  # at 1,000, 2,000 and the end
    assert lines[-1].startswith("delivering: 2,500/2,500 done, 0 failed, 1,000/s, 0s left")
