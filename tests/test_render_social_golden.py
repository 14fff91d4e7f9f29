"""Golden posts: the seed page's Mistral story, as the bundled sample carries it, on every
platform. Compared byte for byte; after an intended change to a template or to the composer,
rewrite them with

    DIGEST_UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/test_render_social_golden.py

and read the diff as a marketer would before committing it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.ingest import read_sources
from digest.models import Digest, DigestKind, Entry, Section
from digest.render.social import PLATFORMS, PostOptions, compose_item_post
from digest.render.templates import template_environment

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "social"
SEED_ITEM = "mistral-sweden-datacentres"


@pytest.fixture(scope="module")
def seed() -> tuple[Digest, Entry, PostOptions]:
    batch = read_sources([str(ROOT / "digest" / "data" / "sample.yaml")])
    item = next(item for item in batch.items if item.id == SEED_ITEM)
    read = next(read for read in batch.reads if read.item_id == SEED_ITEM)
    companies = {company.slug: company for company in batch.companies}
    entry = Entry(item, read, tuple(companies[slug] for slug in item.companies))
    digest = Digest(
        kind=DigestKind.WEEKLY,
        key="weekly:2026-W48",
        title="The week in AI",
        window_start=datetime(2026, 11, 23, tzinfo=UTC),
        window_end=datetime(2026, 11, 30, tzinfo=UTC),
        sections=(Section("Foundation Models · Case Studies", (entry,)),),
        generated_at=datetime(2026, 11, 30, 7, tzinfo=UTC),
    )
    return digest, entry, PostOptions.with_topics(dict(batch.topics))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_seed_story_posts_as_its_golden_file(
    seed: tuple[Digest, Entry, PostOptions], platform: str
) -> None:
    digest, entry, options = seed
    post = compose_item_post(digest, entry, PLATFORMS[platform], template_environment(), options)
    path = GOLDEN / f"mistral-{platform}.txt"
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(post.text + "\n", encoding="utf-8")
    assert post.text + "\n" == path.read_text(encoding="utf-8"), f"{path.name} differs"
    assert PLATFORMS[platform].fits(post.text)
