"""A 1,000,000-subscriber send to an SMTP sink that discards: the peak memory of `digest send`.

    .venv/bin/python bench/bench_email_million.py [--subscribers 1000000]

Sets up a SQLite store with the bundled sample and the subscribers (in this process), starts
postfix's `smtp-sink` (which discards), then runs `digest send weekly` as a child process, the
way an operator would, and reports the child's peak resident memory (getrusage of the children)
and its rate. Planning streams the subscribers a page at a time and the worker holds one batch at
a time, so memory should not grow with the list.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, subscribers
from bench_email_smtp import free_port, start_sink

from digest.cli import DATA

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            ctx = sample_context(root)
            started = time.perf_counter()
            for start in range(0, args.subscribers, 20_000):
                count = min(20_000, args.subscribers - start)
                ctx.store.save_subscribers(subscribers(count, start=start))
            print(
                f"set-up: {args.subscribers:,} subscribers in {time.perf_counter() - started:.0f} s"
            )
            database = str(ctx.store.engine.url)
            ctx.close()
            raw = yaml.safe_load((DATA / "settings.yaml").read_text())
            raw["social"] = []
            raw["database"] = {"url": database}
            raw["email"] = {
                "type": "smtp",
                "options": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "connections": args.connections,
                },
                "batch": 500,
            }
            settings = root / "settings.yaml"
            settings.write_text(yaml.safe_dump(raw, allow_unicode=True))
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "digest", "--settings", str(settings), "send", "weekly"],
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
    finally:
        sink.terminate()
        sink.wait()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(done.stdout.strip())
    if done.returncode != 0:
        print(done.stderr[-2000:])
    print(
        f"digest send weekly: exit {done.returncode}, {seconds:.0f} s, "
        f"{args.subscribers / seconds:,.0f} messages/s"
    )
    print(
        f"peak memory of the send: {peak:.0f} MB (target 200 MB: "
        f"{'met' if peak <= 200 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
