"""Drawing share cards: cards per second, fonts cached, against fonts loaded for every card.

    .venv/bin/python bench/bench_cards.py [--cards 60] [--naive 10] [--rounds 3]

Cards are the bundled sample's items (with their AMW Reads), half of them at 1200×675 and half at
1200×630, some titles in CJK. The fast way is `render_card` as the project runs it: each font and
size loaded once per process and each piece of text measured once, the PNG written in 64 colours.
The naive way loads every font afresh for each card (and so measures every piece of text again)
and writes a full-colour PNG: what a first version would do. A digest's posts need one card per
entry (ten for the default weekly digest).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from dataclasses import replace
from importlib.resources import files
from unittest import mock

from PIL import Image

from digest.ingest import read_sources
from digest.models import Entry
from digest.render import cards
from digest.render.cards import OPEN_GRAPH, POST, render_card

CJK = ("月之暗面发布 Kimi K2 开源智能体模型", "ソフトバンクとOpenAIが日本で合弁会社を設立")


def entries() -> list[Entry]:
    batch = read_sources([str(files("digest") / "data" / "sample.yaml")])
    companies = {company.slug: company for company in batch.companies}
    reads = {read.item_id: read for read in batch.reads}
    made = []
    for n, item in enumerate(batch.items):
        if n % 5 == 0:
            item = replace(item, title=f"{CJK[n % 2]} {item.title}")
        made.append(
            Entry(item, reads.get(item.id), tuple(companies[slug] for slug in item.companies))
        )
    return made


def draw(made: list[Entry], count: int) -> tuple[float, float]:
    """CPU and wall seconds for `count` cards drawn as the project draws them."""
    cards.text_width.cache_clear()  # the texts of earlier rounds: each round measures afresh
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        render_card(made[n % len(made)], site_name="AMW Weekly", size=(POST, OPEN_GRAPH)[n % 2])
    return time.process_time() - cpu, time.perf_counter() - wall


def naive_save(image: Image.Image, out: io.BytesIO, **_: object) -> None:
    image.convert("RGB").save(out, format="PNG", compress_level=6)


def draw_naively(made: list[Entry], count: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        cards.font.cache_clear()
        cards.text_width.cache_clear()
        with mock.patch.object(Image.Image, "quantize", lambda image, *a, **k: image):
            render_card(made[n % len(made)], site_name="AMW Weekly", size=(POST, OPEN_GRAPH)[n % 2])
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=60)
    parser.add_argument("--naive", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both ways (medians)")
    args = parser.parse_args()
    made = entries()
    render_card(made[0], site_name="AMW Weekly")  # the first card loads the fonts: not timed
    fast, naive = [], []
    for _ in range(args.rounds):  # the two ways in turn, so that both see the same load
        fast.append(draw(made, args.cards))
        naive.append(draw_naively(made, args.naive))
    fast_cpu, fast_wall = (statistics.median(run[i] for run in fast) for i in (0, 1))
    naive_cpu, naive_wall = (statistics.median(run[i] for run in naive) for i in (0, 1))
    per_fast, per_naive = fast_cpu / args.cards, naive_cpu / args.naive
    size = sum(len(render_card(entry, site_name="AMW Weekly")) for entry in made) / len(made)
    print(f"medians of {args.rounds} rounds")
    print(
        f"fast:  {args.cards} cards in {fast_cpu:.2f} s of CPU ({fast_wall:.2f} s wall), "
        f"{1 / per_fast:.1f} cards a second, {per_fast * 1000:.0f} ms a card"
    )
    print(
        f"naive: {args.naive} cards in {naive_cpu:.2f} s of CPU ({naive_wall:.2f} s wall), "
        f"{per_naive * 1000:.0f} ms a card"
    )
    print(f"ratio (CPU): {per_naive / per_fast:.1f}x; a card is {size / 1000:.0f} KB on average")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
