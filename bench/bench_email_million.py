"""A 1,000,000-subscriber `digest send weekly --now` to an SMTP sink: its peak memory and rate.

    .venv/bin/python bench/bench_email_million.py [--subscribers 1000000] [--database URL]

Sets up a store with the bundled sample and the subscribers (in this process), starts postfix's
`smtp-sink` (which discards), then runs `digest send weekly --now` as a child process, the way
an operator would (bench_email_smtp.whole_send), and reports the child's peak resident memory
(its VmHWM) and its rates. Planning streams the subscribers and the worker holds one batch at a
time, so memory must not grow with the list (issue 14: at most 120 MB).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import database
from bench_email_smtp import free_port, start_sink, whole_send

TARGET_MB = 120


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL")
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        with (
            tempfile.TemporaryDirectory() as directory,
            database(args.database, Path(directory)) as url,
        ):
            send = whole_send(
                Path(directory), url, port, args.subscribers, args.connections, sink.pid
            )
    finally:
        sink.terminate()
        sink.wait()
    print(
        f"digest send weekly --now, {args.subscribers:,} subscribers: "
        f"{send.delivering:,.0f} messages/s delivering, {send.whole:,.0f}/s with planning"
    )
    verdict = "met" if send.peak_mb <= TARGET_MB else "NOT met"
    print(f"peak memory of the send: {send.peak_mb:.0f} MB (target {TARGET_MB} MB: {verdict})")


if __name__ == "__main__":
    main()
