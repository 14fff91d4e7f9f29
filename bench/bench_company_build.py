"""Composing every company digest of a week, for look-backs of growing size: linear or not.

    .venv/bin/python bench/bench_company_build.py     # --sizes 12500 25000 50000 100000
    .venv/bin/python bench/bench_company_build.py --against /tmp/before --sizes 5000 10000 20000

`digest build company` composes the week's company digests from the week's items and the
look-back before it (120 days by default); this composes them from `N` generated items spread
over that span (2,000 companies, a few with most of the items), so that both the entries and the
candidates of their timelines grow with N. It prints the seconds (CPU and wall) and the
microseconds per item: a linear compose keeps the last column flat. `--against PATH` times the
code of another checkout in a child process, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pages import PARIS, WEEK, generated_companies, generated_items

from digest.compose import compose_company_digests

LOOKBACK = timedelta(days=120)


def timed(size: int) -> dict[str, float]:
    rng = random.Random(size)
    companies = {company.slug: company for company in generated_companies()}
    pairs = list(generated_items(size, rng, span=LOOKBACK + timedelta(days=7)))
    items = [item for item, _ in pairs]
    reads = {read.item_id: read for _, read in pairs}
    started, used = time.perf_counter(), time.process_time()
    digests = list(compose_company_digests(WEEK, PARIS, items, reads, companies, connections=6))
    cpu, wall = time.process_time() - used, time.perf_counter() - started
    entries = sum(len(digest.entries) for digest in digests)
    return {"size": size, "digests": len(digests), "entries": entries, "cpu": cpu, "wall": wall}


def elsewhere(checkout: Path, sizes: list[int]) -> list[dict[str, float]]:
    command = [sys.executable, __file__, "--json", "--sizes", *map(str, sizes)]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the run against {checkout} failed:\n{done.stderr}")
    return list(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12_500, 25_000, 50_000, 100_000])
    parser.add_argument("--against", type=Path, help="another checkout to time, same run")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps([timed(size) for size in args.sizes]))
        return
    runs = [("this code", [timed(size) for size in args.sizes])]
    if args.against:
        runs.append((str(args.against), elsewhere(args.against, args.sizes)))
    print("| code | items | digests | entries | CPU | wall | CPU µs an item |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rows in runs:
        for row in rows:
            print(
                f"| {name} | {row['size']:,} | {row['digests']:,} | {row['entries']:,} | "
                f"{row['cpu']:.2f} s | {row['wall']:.2f} s | "
                f"{1e6 * row['cpu'] / row['size']:.0f} |"
            )


if __name__ == "__main__":
    main()
