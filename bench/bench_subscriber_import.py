"""Subscriber import at scale: wall, CPU and peak memory of `digest subscribers import`.

For each N (100,000 and 1,000,000 unless told) writes a CSV (or YAML: --format) list of N
subscribers (names, a few who left, time zones, hours and formats) in a temporary folder and
imports it twice into a fresh store (a SQLite file, or a PostgreSQL schema of its own:
bench_outbox.database) with the real command line in a child process: first every row is new,
then every row updates a stored subscriber. Prints the child's wall and CPU seconds (user +
system: what a loaded machine does not inflate), its peak RSS (wait4) and rows a second. Issue
14 asks for a 1M-row import in <= 300 MB.

    .venv/bin/python bench/bench_subscriber_import.py
    .venv/bin/python bench/bench_subscriber_import.py --rows 100000 --backend postgresql
    .venv/bin/python bench/bench_subscriber_import.py --rows 1000000 --format yaml
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_ingest import SETTINGS, run
from bench_outbox import database

ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC")


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("id,email,name,status,timezone,weekly,send_hour,format\n")
        for n in range(count):
            status = "unsubscribed" if n % 40 == 0 else "active"
            hour = str(n % 24) if n % 3 == 0 else ""
            out.write(
                f"s{n:07d},reader{n}@example.com,Reader {n},{status},{ZONES[n % 4]},"
                f"{'false' if n % 10 == 0 else 'true'},{hour},{'text' if n % 7 == 0 else 'html'}\n"
            )


def write_yaml(path: Path, count: int) -> None:
    """The same list as write_csv's, as a YAML `subscribers:` list (one flow mapping a row)."""
    with path.open("w", encoding="utf-8") as out:
        out.write("subscribers:\n")
        for n in range(count):
            status = "unsubscribed" if n % 40 == 0 else "active"
            hour = f", send_hour: {n % 24}" if n % 3 == 0 else ""
            out.write(
                f"  - {{id: s{n:07d}, email: reader{n}@example.com, name: Reader {n},"
                f" status: {status}, timezone: {ZONES[n % 4]}, weekly: {n % 10 != 0},"
                f" format: {'text' if n % 7 == 0 else 'html'}{hour}}}\n"
            )


WRITERS = {"csv": write_csv, "yaml": write_yaml}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="rows of each list"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--format", choices=tuple(WRITERS), default="csv", help="of the list")
    args = parser.parse_args()
    digest = str(Path(sys.executable).with_name("digest"))
    backend = "PostgreSQL" if args.backend == "postgresql" else "SQLite"
    columns = f"{'rows':>10} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'rows/s':>8}"
    print(f"{backend:<10} {columns}  exit  ({args.format})")
    for count in args.rows:
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary)
            source = folder / f"subscribers.{args.format}"
            WRITERS[args.format](source, count)
            with database(args.backend, folder) as url:
                command = [digest, "--settings", str(SETTINGS), "--database", url]
                command += ["subscribers", "import", str(source)]
                for label in ("new", "again"):
                    wall, cpu, peak, code = run(command, folder)
                    print(
                        f"{label:<10} {count:>10,} {wall:>8.1f} {cpu:>8.1f} {peak:>8.0f}"
                        f" {count / wall:>8,.0f}  {code}"
                    )


if __name__ == "__main__":
    main()
