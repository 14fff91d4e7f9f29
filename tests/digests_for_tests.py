"""Digests built by hand for the render tests: fixed dates, so output is byte-for-byte stable.

The weekly digest carries the awkward cases on purpose: an entry with an image, one in other
scripts and with emoji, and one whose title is markup and template syntax that must come out as
text, never as markup and never evaluated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from digest.models import (
    AmwRead,
    Company,
    Connection,
    Digest,
    DigestKind,
    Entry,
    NewsItem,
    ReadRef,
    Section,
)
from digest.settings import Secret, SiteSettings

PARIS = ZoneInfo("Europe/Paris")
WEEK_START = datetime(2026, 11, 23, tzinfo=PARIS)
WEEK_END = datetime(2026, 11, 30, tzinfo=PARIS)
GENERATED_AT = datetime(2026, 11, 30, 7, 0, tzinfo=PARIS)
HOSTILE_TITLE = '<script>alert(1)</script> & "quotes" {{ 7*7 }} costs'

SITE = SiteSettings(
    name="AMW Weekly",
    base_url="https://news.example.org",
    from_address="AMW Digest <digest@news.example.org>",
    list_id="weekly.news.example.org",
    secret_key=Secret("test-secret-key-0123456789"),
    timezone="Europe/Paris",
    unsubscribe_mailto="unsubscribe@news.example.org",
    unsubscribe_mailto_reader="postmark",
    postal_address="AMW Media SAS, 12 rue du Sentier, 75002 Paris, France",
)

MISTRAL = Company(
    slug="mistral-ai",
    name="Mistral AI",
    sector="Foundation Models / LLMs",
    country="FR",
    hashtag="MistralAI",
    profile_url="https://news.example.org/companies/mistral-ai",
)
DEEPSEEK = Company(
    slug="deepseek",
    name="DeepSeek",
    sector="Foundation Models / LLMs",
    country="CN",
    hashtag="DeepSeek",
)
ANTHROPIC = Company(
    slug="anthropic",
    name="Anthropic",
    sector="Foundation Models / LLMs",
    country="US",
    hashtag="Anthropic",
)
COMPANIES = {company.slug: company for company in (MISTRAL, DEEPSEEK, ANTHROPIC)}

MISTRAL_SWEDEN = NewsItem(
    id="mistral-sweden",
    title="Mistral AI is investing 1.2 billion euros in Swedish data centers",
    summary=(
        "Mistral AI is investing 1.2 billion euros in Swedish data centers for its first major "
        "infrastructure push outside France. Partnering with EcoDataCenter, the 2027 facility "
        "will provide localized compute and sovereign cloud services."
    ),
    url="https://news.example.org/news/mistral-sweden",
    published_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
    companies=("mistral-ai",),
    category="Expansion",
    topics=("Foundation Models · Case Studies", "Compute Economics", "Geopolitics"),
    countries=("SE",),
    region="global",
    hashtags=("AI infrastructure", "Digital sovereignty"),
    image_url="https://news.example.org/images/mistral-sweden.jpg",
    read_minutes=1,
)
DEEPSEEK_PRICE = NewsItem(
    id="deepseek-price",
    title="DeepSeek cuts V4-Pro API price for good — 深度求索 lowers costs again",
    summary=(
        "DeepSeek permanently reduces the V4-Pro API price to its promotional level; JD.com, "
        "NetEase and CATL are among the first customers. Prix réduit, même qualité. 🚀"
    ),
    url="https://news.example.org/news/deepseek-price",
    published_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    companies=("deepseek",),
    category="Pricing",
    topics=("Compute Economics",),
    countries=("CN",),
    hashtags=("API pricing",),
    read_minutes=2,
)
HOSTILE = NewsItem(
    id="hostile",
    title=HOSTILE_TITLE,
    summary="A summary with <b>markup</b> & {% if true %}a tag{% endif %} that stays text.",
    url="javascript:alert(1)",
    published_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    companies=("anthropic",),
    category="Product",
    topics=("Compute Economics",),
    countries=("US",),
    image_url="data:image/png;base64,AAAA",
    read_minutes=3,
)
MAIA = NewsItem(
    id="maia-anthropic",
    title="Microsoft in talks to supply custom Maia AI chips to Anthropic",
    summary="A potential breakthrough in Microsoft's chip strategy.",
    url="https://news.example.org/news/maia-anthropic",
    published_at=datetime(2026, 11, 24, 16, 45, tzinfo=UTC),
    companies=("anthropic",),
    category="Chips",
    topics=("Geopolitics",),
    countries=("US",),
    hashtags=("AI chips",),
    read_minutes=2,
)


def _read(item: NewsItem, novelty: int, significance: int, *refs: ReadRef) -> AmwRead:
    return AmwRead(
        item_id=item.id,
        text=f"Why it matters: {item.title.split(' ', 3)[-1]} shifts who controls compute.",
        novelty=novelty,
        significance=significance,
        refs=refs,
    )


MISTRAL_READ = AmwRead(
    item_id=MISTRAL_SWEDEN.id,
    text=(
        "Mistral (a segment 01 case study) is executing a massive vertical integration move into "
        "infrastructure (cross.§A) to secure European digital sovereignty (cross.§E), challenging "
        "the US hyperscaler dominance pattern."
    ),
    novelty=4,
    significance=5,
    refs=(
        ReadRef("segment 01 case study"),
        ReadRef("cross.§A", "infrastructure"),
        ReadRef("cross.§E", "digital sovereignty"),
    ),
)


def _entry(item: NewsItem, read: AmwRead | None, *connections: Connection) -> Entry:
    return Entry(
        item=item,
        read=read,
        companies=tuple(COMPANIES[slug] for slug in item.companies),
        connections=connections,
    )


def weekly_digest() -> Digest:
    """Two sections, four entries: an image, non-ASCII, hostile text, an entry with no read."""
    return Digest(
        kind=DigestKind.WEEKLY,
        key="weekly:2026-W48",
        title="The AMW Weekly",
        window_start=WEEK_START,
        window_end=WEEK_END,
        sections=(
            Section(
                title="Foundation Models · Case Studies",
                entries=(_entry(MISTRAL_SWEDEN, MISTRAL_READ),),
            ),
            Section(
                title="Compute Economics",
                entries=(
                    _entry(DEEPSEEK_PRICE, _read(DEEPSEEK_PRICE, 3, 4, ReadRef("cross.§B"))),
                    _entry(HOSTILE, _read(HOSTILE, 1, 2)),
                    _entry(MAIA, None),
                ),
            ),
        ),
        generated_at=GENERATED_AT,
    )


def company_digest() -> Digest:
    """Mistral AI's week: its company card, one entry and its timelines, each placing it."""
    topic = "Foundation Models · Case Studies"
    connections = (
        Connection(DEEPSEEK_PRICE, "1d ago", topic, ("DeepSeek",)),
        Connection(MAIA, "3d ago", topic, ("Anthropic",)),
        Connection(MISTRAL_SWEDEN, "4d ago", topic, is_entry=True),
        Connection(MISTRAL_SWEDEN, "4d ago", "Mistral AI", is_entry=True),
        Connection(HOSTILE, "1w ago", "Mistral AI", ("Anthropic",)),
    )
    return Digest(
        kind=DigestKind.COMPANY,
        key="company:mistral-ai:2026-W48",
        title="Mistral AI this week",
        window_start=WEEK_START,
        window_end=WEEK_END,
        sections=(
            Section(
                title="New this week",
                entries=(_entry(MISTRAL_SWEDEN, MISTRAL_READ, *connections),),
            ),
        ),
        generated_at=GENERATED_AT,
        company=MISTRAL,
    )


def ten_entry_weekly() -> Digest:
    """The default weekly digest's size: ten realistic entries, a third of them with an image."""
    entries = []
    for number in range(10):
        item = NewsItem(
            id=f"item-{number}",
            title=f"Item {number}: {MISTRAL_SWEDEN.title}",
            summary=MISTRAL_SWEDEN.summary + " " + MISTRAL_SWEDEN.summary,
            url=f"https://news.example.org/news/item-{number}",
            published_at=WEEK_START + timedelta(hours=10 * number),
            companies=("mistral-ai", "deepseek"),
            category="Expansion",
            countries=("SE", "FR"),
            region="EU",
            hashtags=("AI infrastructure", "Digital sovereignty"),
            image_url=MISTRAL_SWEDEN.image_url if number % 3 == 0 else None,
            read_minutes=2,
        )
        entries.append(_entry(item, MISTRAL_READ))
    return Digest(
        kind=DigestKind.WEEKLY,
        key="weekly:2026-W48",
        title="The AMW Weekly",
        window_start=WEEK_START,
        window_end=WEEK_END,
        sections=(
            Section(title="Compute Economics", entries=tuple(entries[:5])),
            Section(title="Geopolitics", entries=tuple(entries[5:])),
        ),
        generated_at=GENERATED_AT,
    )
