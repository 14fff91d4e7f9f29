"""Ingest at scale: wall time and peak memory of the real command line.

Writes N items (each with an AMW Read, over 200 companies) as YAML and as JSON Lines, then runs
`digest ingest` on each in a child process into a fresh store (a SQLite file, or a PostgreSQL
schema of its own: bench_outbox.database) and prints its wall and CPU seconds and peak RSS (the
child's own, from wait4). Issue 14 asks for a 100k-item YAML in <= 25 s and
<= 300 MB, and a 1M-line JSON Lines in <= 300 MB. The subscriber import has its own bench,
bench_subscriber_import.py.

    .venv/bin/python bench/bench_ingest.py --items 100000 --lines 1000000
    .venv/bin/python bench/bench_ingest.py --items 100000 --lines 1000000 --backend postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench_outbox import database

COMPANIES = 200
SETTINGS = Path(__file__).resolve().parent.parent / "settings.yaml"


def company(n: int) -> dict[str, str]:
    return {
        "slug": f"company-{n}",
        "name": f"Company {n}",
        "sector": "Foundation Models / LLMs",
        "country": "FR",
        "hashtag": f"Company{n}",
    }


def item(n: int) -> dict[str, object]:
    day = 1 + n % 28
    return {
        "id": f"item-{n:07d}",
        "title": f"Company {n % COMPANIES} ships model number {n} to customers in Europe",
        "summary": "A new model, with a longer context and a lower price. " * 3,
        "url": f"https://source.example.com/news/{n}",
        "published_at": f"2026-{1 + n % 11:02d}-{day:02d}T09:30:00+01:00",
        "companies": [f"company-{n % COMPANIES}"],
        "category": "Product",
        "topics": ["Compute Economics", "Geopolitics"],
    }


def read(n: int) -> dict[str, object]:
    return {
        "item": f"item-{n:07d}",
        "text": "The move matters because it lowers the price of long context for everyone. " * 2,
        "novelty": 1 + n % 5,
        "significance": 1 + (n * 7) % 5,
    }


def write_yaml(path: Path, count: int) -> None:
    # Written by hand, record by record: yaml.dump of 100k records would itself need gigabytes.
    with path.open("w", encoding="utf-8") as out:
        out.write("companies:\n")
        for n in range(COMPANIES):
            out.write(f"  - {json.dumps(company(n))}\n")
        out.write("items:\n")
        for n in range(count):
            out.write(f"  - {json.dumps(item(n))}\n")
        out.write("reads:\n")
        for n in range(count):
            out.write(f"  - {json.dumps(read(n))}\n")


def jsonl_records(count: int) -> Iterator[dict[str, object]]:
    for n in range(COMPANIES):
        yield {"kind": "company", **company(n)}
    # Lines are records: items and reads take half of them each.
    for n in range((count - COMPANIES) // 2):
        yield {"kind": "item", **item(n)}
        yield {"kind": "read", **read(n)}


def write_jsonl(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in jsonl_records(count):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def run(command: list[str], directory: Path) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system: what a loaded machine does not inflate), peak
    RSS in MB and exit status of the child."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="items in the YAML file")
    parser.add_argument("--lines", type=int, default=100_000, help="lines of the JSON Lines file")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each file, each printed")
    args = parser.parse_args()
    digest = str(Path(sys.executable).with_name("digest"))
    header = f"input ({args.backend})"
    print(f"{header:<32} {'records':>9} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}  exit")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        cases = [
            ("items.yaml", args.items, write_yaml),
            ("items.jsonl", args.lines, write_jsonl),
        ]
        for name, count, write in cases:
            if count <= 0:
                continue
            source = folder / name
            write(source, count)
            label = f"{name} ({source.stat().st_size / 1e6:,.0f} MB)"
            for attempt in range(args.rounds):
                store = folder / f"{name}-{attempt}"  # a fresh SQLite file for each run
                store.mkdir()
                with database(args.backend, store) as url:
                    command = [digest, "--settings", str(SETTINGS), "--database", url]
                    command += ["ingest", str(source)]
                    wall, cpu, peak, code = run(command, folder)
                print(f"{label:<32} {count:>9,} {wall:>8.1f} {cpu:>8.1f} {peak:>8.0f}  {code}")
                shutil.rmtree(store)
            source.unlink()


if __name__ == "__main__":
    main()
