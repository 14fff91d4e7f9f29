"""Writing companies, items and AMW Reads, and reading them back, on both backends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from digest.errors import InputError
from digest.models import AmwRead, Company, NewsItem, ReadRef
from digest.store import BatchCounts, Counts, Store, schema

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


@dataclass(frozen=True)
class Batch:
    """Stand-in for digest.ingest.Batch: the fields write_batch reads."""

    companies: tuple[Company, ...] = ()
    items: tuple[NewsItem, ...] = ()
    reads: tuple[AmwRead, ...] = ()
    topics: Mapping[str, str] = field(default_factory=dict)


def company(slug: str, **changes: Any) -> Company:
    base = Company(
        slug=slug,
        name=slug.title(),
        sector="Foundation Models / LLMs",
        country="FR",
        hashtag=slug.replace("-", "").title(),
        profile_url=f"https://example.com/companies/{slug}",
    )
    return replace(base, **changes)


def item(item_id: str, published_at: datetime, *companies: str, **changes: Any) -> NewsItem:
    base = NewsItem(
        id=item_id,
        title=f"Title {item_id}",
        summary=f"Summary of {item_id} <b>with markup</b>",
        url=f"https://example.com/news/{item_id}",
        published_at=published_at,
        companies=companies or ("mistral-ai",),
        category="Funding",
        topics=("Foundation Models · Case Studies", "Compute Economics"),
        countries=("FR", "DE"),
        region="EU",
        hashtags=("MistralAI", "AI"),
        image_url=None,
        read_minutes=3,
        source="AMW",
    )
    return replace(base, **changes)


def read(item_id: str, **changes: Any) -> AmwRead:
    base = AmwRead(
        item_id=item_id,
        text=f"The read of {item_id}.",
        novelty=3,
        significance=4,
        refs=(ReadRef("segment 01 case study"), ReadRef("cross.§A", "infrastructure")),
    )
    return replace(base, **changes)


def sample_batch() -> Batch:
    return Batch(
        companies=(company("mistral-ai"), company("openai", country="US"), company("nvidia")),
        items=(
            item("i1", MONDAY + timedelta(hours=1), "mistral-ai"),
            item("i2", MONDAY + timedelta(hours=2), "openai", "nvidia", "mistral-ai"),
            item("i3", MONDAY + timedelta(days=1), "nvidia", image_url="https://x/i3.png"),
        ),
        reads=(read("i1"), read("i2", novelty=5, refs=())),
    )


def dump(store: Store) -> dict[str, list[str]]:
    """Every row of every table, as comparable text."""
    with store.engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in schema.metadata.sorted_tables
        }


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table)) or 0


def test_first_batch_inserts_and_reads_back(store: Store) -> None:
    batch = sample_batch()
    counts = store.write_batch(batch)
    assert counts == BatchCounts(
        companies=Counts(3, 0), items=Counts(3, 0), reads=Counts(2, 0), topics=Counts(2, 0)
    )
    assert (counts.items_inserted, counts.items_updated) == (3, 0)
    assert store.company_slugs() == {"mistral-ai", "openai", "nvidia"}
    assert store.item_ids() == {"i1", "i2", "i3"}
    assert store.companies() == {c.slug: c for c in batch.companies}
    assert store.items_between(MONDAY, MONDAY + timedelta(days=7)) == list(batch.items)
    assert store.reads_for(["i1", "i2", "i3", "missing"]) == {r.item_id: r for r in batch.reads}
    assert store.latest_published_at() == MONDAY + timedelta(days=1)


def test_identical_batch_again_changes_nothing(store: Store) -> None:
    store.write_batch(sample_batch())
    before = dump(store)
    counts = store.write_batch(sample_batch())
    assert counts == BatchCounts(
        companies=Counts(0, 0, 3),
        items=Counts(0, 0, 3),
        reads=Counts(0, 0, 2),
        topics=Counts(0, 0, 2),
    )
    assert dump(store) == before  # not even updated_at moved
    assert count(store, schema.item_companies) == 5


def test_changed_fields_are_updated_and_company_order_kept(store: Store) -> None:
    store.write_batch(sample_batch())
    changed = Batch(
        companies=(company("openai", name="OpenAI", profile_url=None), company("anthropic")),
        items=(
            item(
                "i2",
                MONDAY + timedelta(hours=5),
                "anthropic",
                "mistral-ai",
                "openai",
                title="New title",
                topics=("Geopolitics",),
                countries=(),
                region=None,
                read_minutes=7,
            ),
            item("i4", MONDAY + timedelta(days=2), "openai", "anthropic"),
        ),
        reads=(read("i2", text="Revised.", significance=1, refs=(ReadRef("cross.§E"),)),),
    )
    counts = store.write_batch(changed)
    assert counts == BatchCounts(
        companies=Counts(1, 1, 0),
        items=Counts(1, 1, 0),
        reads=Counts(0, 1, 0),
        topics=Counts(1, 0, 2),
    )
    companies = store.companies()
    assert companies["openai"] == changed.companies[0]
    assert companies["mistral-ai"] == sample_batch().companies[0]
    items = {i.id: i for i in store.items_between(MONDAY, MONDAY + timedelta(days=7))}
    assert items["i2"] == changed.items[0]
    assert items["i2"].companies == ("anthropic", "mistral-ai", "openai")
    assert items["i4"].companies == ("openai", "anthropic")
    assert items["i1"] == sample_batch().items[0]
    assert store.reads_for(["i2"]) == {"i2": changed.reads[0]}
    assert count(store, schema.item_companies) == 1 + 3 + 1 + 2


def test_a_record_named_twice_in_one_batch_keeps_the_last(store: Store) -> None:
    first = item("i1", MONDAY, "mistral-ai", title="first")
    last = item("i1", MONDAY, "mistral-ai", title="last")
    counts = store.write_batch(
        Batch(companies=(company("mistral-ai"),), items=(first, last), reads=())
    )
    assert counts.items == Counts(1, 0)
    assert [i.title for i in store.items_between(MONDAY, MONDAY + timedelta(1))] == ["last"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(Batch(reads=(read("no-such-item"),)), id="read-for-missing-item"),
        pytest.param(Batch(reads=(read("i9", novelty=9),)), id="novelty-out-of-range"),
        pytest.param(Batch(reads=(read("i9", significance=0),)), id="significance-out-of-range"),
        pytest.param(
            Batch(items=(item("i8", MONDAY, "mistral-ai", "no-such-company"),)),
            id="item-of-missing-company",
        ),
        pytest.param(
            Batch(items=(item("i8", MONDAY.replace(tzinfo=None)),)), id="naive-published-at"
        ),
    ],
)
def test_a_bad_batch_writes_nothing(store: Store, bad: Batch) -> None:
    store.write_batch(sample_batch())
    before = dump(store)
    # Good records first, so that the failure comes mid-way through the transaction.
    batch = Batch(
        companies=(company("mistral-ai", name="Changed"), company("new-co")),
        items=(
            item("i1", MONDAY, "new-co", title="Changed"),
            item("i9", MONDAY + timedelta(hours=3), "new-co"),
            *bad.items,
        ),
        reads=(read("i1", text="Changed"), *bad.reads),
    )
    with pytest.raises(InputError) as caught:
        store.write_batch(batch)
    assert "nothing was written" in str(caught.value)
    assert dump(store) == before


def test_items_between_is_half_open_in_any_zone(store: Store) -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=TOKYO)  # 2026-11-23T00:00Z
    end = datetime(2026, 11, 29, 19, 0, tzinfo=NEW_YORK)  # 2026-11-30T00:00Z
    tick = timedelta(microseconds=1)
    items = (
        item("before", MONDAY - tick),
        item("at-start", MONDAY),
        item("b-same-time", MONDAY + timedelta(days=3)),
        item("a-same-time", MONDAY + timedelta(days=3)),
        item("last", MONDAY + timedelta(days=7) - tick),
        item("at-end", MONDAY + timedelta(days=7)),
    )
    store.write_batch(Batch(companies=(company("mistral-ai"),), items=items, reads=()))
    found = store.items_between(start, end)
    assert [i.id for i in found] == ["at-start", "a-same-time", "b-same-time", "last"]
    assert store.items_between(end, end) == []


def test_datetimes_come_back_aware_in_utc(store: Store) -> None:
    published = datetime(2026, 11, 24, 23, 30, 15, 123456, tzinfo=TOKYO)
    store.write_batch(
        Batch(companies=(company("mistral-ai"),), items=(item("i1", published),), reads=())
    )
    (found,) = store.items_between(MONDAY, MONDAY + timedelta(days=7))
    assert found.published_at == published
    assert found.published_at.tzinfo is UTC
    assert found.published_at == datetime(2026, 11, 24, 14, 30, 15, 123456, tzinfo=UTC)
    latest = store.latest_published_at()
    assert latest == published
    assert latest is not None and latest.tzinfo is UTC


def test_naive_window_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store.items_between(datetime(2026, 11, 23), MONDAY)


def test_empty_store(store: Store) -> None:
    assert store.latest_published_at() is None
    assert store.items_between(MONDAY, MONDAY + timedelta(days=7)) == []
    assert store.reads_for([]) == {}
    assert store.companies() == {}
    assert store.write_batch(Batch()) == BatchCounts()


def test_many_items_in_chunks(store: Store) -> None:
    """More ids than one IN (...) list holds, to cover the chunked queries."""
    n = 1234
    items = tuple(item(f"i{k:05d}", MONDAY + timedelta(minutes=k)) for k in range(n))
    reads = tuple(read(i.id) for i in items[::2])
    batch = Batch(companies=(company("mistral-ai"),), items=items, reads=reads)
    assert store.write_batch(batch).items == Counts(n, 0)
    assert store.write_batch(batch) == BatchCounts(
        Counts(0, 0, 1), Counts(0, 0, n), Counts(0, 0, n // 2), Counts(0, 0, 2)
    )
    assert store.items_between(MONDAY, MONDAY + timedelta(days=7)) == list(items)
    assert len(store.reads_for([i.id for i in items])) == len(reads)
    assert count(store, schema.item_companies) == n


def test_page_url_and_social_line_round_trip(store: Store) -> None:
    page = item("i1", MONDAY, page_url="https://news.example.org/news/i1")
    line = read("i1", social="Mistral builds its own compute in Sweden.")
    store.write_batch(Batch(companies=(company("mistral-ai"),), items=(page,), reads=(line,)))
    assert store.items_between(MONDAY, MONDAY + timedelta(days=1)) == [page]
    assert store.reads_for(["i1"]) == {"i1": line}


def test_topics_are_kept_with_their_declared_hashtags(store: Store) -> None:
    first = Batch(
        companies=(company("mistral-ai"),),
        items=(item("i1", MONDAY, topics=("Foundation Models · Case Studies", "Geopolitics")),),
        topics={"Foundation Models · Case Studies": "FoundationModels"},
    )
    store.write_batch(first)
    assert store.topics() == {
        "Foundation Models · Case Studies": "FoundationModels",
        "Geopolitics": None,
    }
    # A later input that declares nothing keeps the hashtag; one that declares another changes it.
    later = item("i2", MONDAY, topics=("Geopolitics", "Foundation Models · Case Studies"))
    store.write_batch(Batch(items=(later,)))
    assert store.topics()["Foundation Models · Case Studies"] == "FoundationModels"
    counts = store.write_batch(Batch(items=(later,), topics={"Geopolitics": "Geopolitics"}))
    assert counts.topics == Counts(0, 1, 1)
    assert store.topics() == {
        "Foundation Models · Case Studies": "FoundationModels",
        "Geopolitics": "Geopolitics",
    }


def test_existing_item_ids_answers_only_for_the_stored(store: Store) -> None:
    store.write_batch(sample_batch())
    asked = [f"i{n}" for n in range(CHUNK_PLUS)]
    assert store.existing_item_ids(asked) == {"i1", "i2", "i3"}


CHUNK_PLUS = 1203  # more than one IN (...) list


def test_records_stream_from_iterables_read_once(store: Store) -> None:
    batch = sample_batch()
    counts = store.write_records(
        iter(batch.companies),
        iter(batch.items),
        iter(batch.reads),
        {"Compute Economics": "Compute"},
    )
    assert counts.items == Counts(3, 0, 0)
    assert store.topics()["Compute Economics"] == "Compute"
