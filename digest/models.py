"""The domain: plain frozen dataclasses, no I/O.

Every other stage speaks in these types. Collections are tuples so that a model is hashable and
cannot be changed behind the back of the code that composed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True, slots=True)
class Company:
    slug: str
    name: str
    sector: str
    country: str  # ISO 3166-1 alpha-2
    hashtag: str  # without the "#", e.g. "MistralAI"
    profile_url: str | None = None


@dataclass(frozen=True, slots=True)
class NewsItem:
    id: str
    title: str
    summary: str
    url: str
    published_at: datetime  # always timezone-aware
    companies: tuple[str, ...]  # company slugs; the first is the item's main company
    category: str
    topics: tuple[str, ...] = ()  # the first is the item's main topic
    countries: tuple[str, ...] = ()  # ISO 3166-1 alpha-2 codes, shown as flags
    region: str | None = None  # "global" (🌍), "EU" (🇪🇺), …
    hashtags: tuple[str, ...] = ()  # without the "#"
    image_url: str | None = None
    read_minutes: int = 1
    source: str | None = None
    page_url: str | None = None  # the site's own page for the item; `url` is the source


@dataclass(frozen=True, slots=True)
class ReadRef:
    """A framework cross-reference of an AMW Read, e.g. "cross.§A" labelled "infrastructure"."""

    ref: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class AmwRead:
    item_id: str
    text: str
    novelty: int  # 1–5
    significance: int  # 1–5
    refs: tuple[ReadRef, ...] = ()
    social: str | None = None  # an editor's line for social posts (else the first sentence)


class SubscriberStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


EmailFormat = Literal["html", "text"]


@dataclass(frozen=True, slots=True)
class Preferences:
    weekly: bool = True
    companies: tuple[str, ...] = ()  # slugs of the companies followed
    topics: tuple[str, ...] = ()  # empty: every topic
    send_hour: int | None = None  # local hour, 0–23; None: the site's (`site.send_hour`)
    format: EmailFormat = "html"


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: str
    email: str
    name: str  # as addressed in the To: header
    status: SubscriberStatus = SubscriberStatus.ACTIVE
    timezone: str = ""  # IANA name; empty: the site's (`site.timezone`)
    preferences: Preferences = field(default_factory=Preferences)
    given_name: str = ""  # what greetings use; empty when not known (see digest/names.py)
    family_name: str = ""


@dataclass(frozen=True, slots=True)
class Consent:
    """When a subscriber opted in, confirmed and unsubscribed, as the list they came from says
    (another service's export); None where it does not say."""

    opted_in_at: datetime | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None


class DigestKind(StrEnum):
    WEEKLY = "weekly"
    COMPANY = "company"


@dataclass(frozen=True, slots=True)
class Connection:
    """One line of "How This Connects": an item related to an entry, or the entry itself.

    An entry's connections are its timelines, one per basis, each most recent first; each
    timeline holds the entry itself at its place in time (`is_entry`, the site's "THIS
    ARTICLE"), as the site's page places the article among the news it connects to.
    """

    item: NewsItem
    age: str  # "1d ago", "1w ago", relative to the digest's date
    basis: str  # what relates it: the company, or the shared topic
    company_names: tuple[str, ...] = ()
    is_entry: bool = False  # the entry itself, placed in its timeline


@dataclass(frozen=True, slots=True)
class Entry:
    item: NewsItem
    read: AmwRead | None
    companies: tuple[Company, ...]  # resolved from item.companies, in the same order
    connections: tuple[Connection, ...] = ()
    # In one subscriber's weekly: the names of the companies they follow that brought this
    # entry in (it is outside their topics, or outside the week's top); empty otherwise.
    followed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    title: str  # a topic (weekly) or a heading of a company digest
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    kind: DigestKind
    key: str  # "weekly:2026-W48", "company:mistral-ai:2026-W48"
    title: str
    window_start: datetime  # inclusive, timezone-aware
    window_end: datetime  # exclusive
    sections: tuple[Section, ...]
    generated_at: datetime  # the digest's own date, never the clock
    company: Company | None = None  # set for a company digest
    # An editor's changes to what the email says (compose/edits.py); None: the default wording.
    note: str = ""  # the editor's note that opens the email, in Markdown
    subject: str | None = None
    preheader: str | None = None
    # A weekly's other items of the week about some company, ranked: not in the digest itself,
    # but each subscriber's weekly adds those about the companies they follow.
    company_entries: tuple[Entry, ...] = ()

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(entry for section in self.sections for entry in section.entries)


class DeliveryState(StrEnum):
    PLANNED = "planned"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"  # the recipient left or bounced before the row was delivered
    HELD = "held"  # set aside for an editor: an unknown outcome that could not be checked


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    SOCIAL = "social"
    WEBHOOK = "webhook"  # an event for one endpoint of the outgoing webhooks


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row: a (digest, recipient) or a (post, channel)."""

    id: int
    idempotency_key: str
    digest_key: str
    channel: DeliveryChannel
    target: str  # subscriber id, or the social channel's name
    state: DeliveryState
    payload: dict[str, object] = field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None
    provider_id: str | None = None
    is_test: bool = False
    # Earlier attempts handed to the service that never got its answer (the connection dropped
    # after the message went, or the worker died while the service had it).
    unanswered: int = 0
    available_at: datetime | None = None  # when it fell due: a post's slot


class DeliveryStatus(StrEnum):
    """What a delivery adapter answers, the same for every service."""

    SENT = "sent"  # the service accepted it for delivery
    QUEUED = "queued"  # accepted, delivery not yet attempted by the service
    REJECTED = "rejected"  # refused for good (bad address, policy): never retried
    FAILED = "failed"  # did not go; `transient` says whether trying again may help
    UNKNOWN = "unknown"  # the outcome cannot be known (connection lost mid-call)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: DeliveryStatus
    provider_id: str | None = None  # the service's id for what it accepted
    response: str | None = None  # the service's answer, secrets masked
    transient: bool = False  # for FAILED: a later try may succeed
    retry_after: float | None = None  # seconds the service asked us to wait
