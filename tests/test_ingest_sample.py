"""The bundled samples that `digest demo` ingests validate without a single problem."""

from __future__ import annotations

from pathlib import Path

from digest.ingest import read_sources, read_subscribers

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "digest" / "data" / "sample.yaml"
SUBSCRIBERS = ROOT / "subscribers" / "sample.csv"


def test_sample_items_validate() -> None:
    batch = read_sources([str(SAMPLE)])
    assert batch.companies and batch.items and batch.reads
    slugs = {company.slug for company in batch.companies}
    assert all(set(item.companies) <= slugs for item in batch.items)


def test_sample_subscribers_validate() -> None:
    subscribers = read_subscribers(SUBSCRIBERS)
    assert subscribers
    assert len({subscriber.email.casefold() for subscriber in subscribers}) == len(subscribers)
