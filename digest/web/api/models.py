"""The API's request and answer types: validation, serialisation and the OpenAPI schemas all
come from these models (pydantic), so the document describes exactly what the handlers do.

Requests forbid unknown fields and take JSON's own types only (strict); answers are built from
the domain models by the `from_…` functions here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from digest.events import EVENT_TYPES
from digest.models import (
    AmwRead,
    Delivery,
    DeliveryChannel,
    DeliveryState,
    DigestKind,
    NewsItem,
    Preferences,
    Subscriber,
    SubscriberStatus,
)
from digest.schedule.status import Stage
from digest.settings import MAX_PAGE_SIZE
from digest.store.store import ApprovalStatus

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
Cursor = Annotated[
    str | None,
    Field(description="`next_cursor` of the previous page; leave out for the first page"),
]
Limit = Annotated[
    int | None, Field(ge=1, le=MAX_PAGE_SIZE, description="rows per page (default: page_size)")
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Errors ------------------------------------------------------------------------------------


class ProblemOut(Answer):
    record: str = Field(description='the record: "items[2]", "line 7", "body", "query"')
    field: str = Field(description="the field in it, empty for the whole record")
    message: str
    text: str = Field(description="`record: field: problem`, as `digest ingest` prints it")


class ErrorBody(Answer):
    status: int
    code: str = Field(description="stable, for programs: missing_token, missing_scope, invalid…")
    message: str = Field(description="what went wrong and what to do, for a person")
    request_id: str
    problems: list[ProblemOut] = Field(default_factory=list)


# Items -------------------------------------------------------------------------------------


class Counts(Answer):
    inserted: int
    updated: int


class BatchResult(Answer):
    companies: Counts
    items: Counts
    reads: Counts


class RefOut(Answer):
    ref: str
    label: str | None


class ReadOut(Answer):
    text: str
    novelty: int
    significance: int
    refs: list[RefOut]


class ItemOut(Answer):
    id: str
    title: str
    summary: str
    url: str
    published_at: datetime
    companies: list[str]
    category: str
    topics: list[str]
    countries: list[str]
    region: str | None
    hashtags: list[str]
    image_url: str | None
    read_minutes: int
    source: str | None
    read: ReadOut | None = Field(description="the item's AMW Read, if it has one")

    @classmethod
    def of(cls, item: NewsItem, read: AmwRead | None) -> ItemOut:
        return cls(
            id=item.id,
            title=item.title,
            summary=item.summary,
            url=item.url,
            published_at=item.published_at,
            companies=list(item.companies),
            category=item.category,
            topics=list(item.topics),
            countries=list(item.countries),
            region=item.region,
            hashtags=list(item.hashtags),
            image_url=item.image_url,
            read_minutes=item.read_minutes,
            source=item.source,
            read=None
            if read is None
            else ReadOut(
                text=read.text,
                novelty=read.novelty,
                significance=read.significance,
                refs=[RefOut(ref=ref.ref, label=ref.label) for ref in read.refs],
            ),
        )


class ItemQuery(Request):
    week: str | None = Field(
        None, description="ISO week like 2026-W48, in the site's time zone (default: every week)"
    )
    company: str | None = Field(None, description="only items about this company (its slug)")
    cursor: Cursor = None
    limit: Limit = None


class ItemPage(Answer):
    data: list[ItemOut]
    next_cursor: str | None


# Digests -----------------------------------------------------------------------------------


class PageQuery(Request):
    cursor: Cursor = None
    limit: Limit = None


class DigestSummaryOut(Answer):
    key: str
    kind: DigestKind
    title: str
    window_start: datetime
    window_end: datetime
    approval: ApprovalStatus = Field(description="draft, held or approved by an editor")
    stage: Stage = Field(description="where it stands, from its outbox rows and its schedule")
    status: str = Field(description="the stage in words, with its figures")
    planned_at: datetime | None = Field(description="when it was released to its readers")
    archive_url: str | None = Field(description="its page in the public archive, once released")


class DigestPage(Answer):
    data: list[DigestSummaryOut]
    next_cursor: str | None


class EntryOut(Answer):
    section: str
    item_id: str
    title: str
    url: str


class DigestOut(DigestSummaryOut):
    company: str | None = Field(description="the company's slug, for a company digest")
    generated_at: datetime
    entries: list[EntryOut]
    deliveries: dict[DeliveryState, int] = Field(
        description="its outbox rows (emails and posts, test-sends aside) by state"
    )
    deliveries_by_channel: dict[DeliveryChannel, dict[DeliveryState, int]]


class DeliveryQuery(PageQuery):
    state: DeliveryState | None = Field(None, description="only rows in this state")


class DeliveryOut(Answer):
    id: int
    channel: DeliveryChannel
    target: str = Field(description="the subscriber's id, or the social channel's name")
    state: DeliveryState
    attempts: int
    last_error: str | None
    provider_id: str | None
    is_test: bool

    @classmethod
    def of(cls, row: Delivery) -> DeliveryOut:
        return cls(
            id=row.id,
            channel=row.channel,
            target=row.target,
            state=row.state,
            attempts=row.attempts,
            last_error=row.last_error,
            provider_id=row.provider_id,
            is_test=row.is_test,
        )


class DeliveryPage(Answer):
    data: list[DeliveryOut]
    next_cursor: str | None


# Subscribers -------------------------------------------------------------------------------


class PreferencesOut(Answer):
    weekly: bool
    companies: list[str]
    topics: list[str]
    send_hour: int | None = Field(description="local hour, 0–23; null: the site's default")
    format: Literal["html", "text"]


class PreferencesIn(Request):
    """Only the fields given change."""

    weekly: bool | None = None
    companies: list[str] | None = Field(None, description="slugs of the companies followed")
    topics: list[str] | None = Field(None, description="weekly topics; empty: every topic")
    send_hour: int | None = Field(None, description="local hour, 0–23")
    format: Literal["html", "text"] | None = None


class SubscriberOut(Answer):
    id: str
    email: str
    name: str
    given_name: str = Field(description="what greetings use; empty when not known")
    family_name: str
    status: SubscriberStatus
    timezone: str = Field(description="IANA name; empty: the site's")
    preferences: PreferencesOut

    @classmethod
    def of(cls, subscriber: Subscriber) -> SubscriberOut:
        preferences: Preferences = subscriber.preferences
        return cls(
            id=subscriber.id,
            email=subscriber.email,
            name=subscriber.name,
            given_name=subscriber.given_name,
            family_name=subscriber.family_name,
            status=subscriber.status,
            timezone=subscriber.timezone,
            preferences=PreferencesOut(
                weekly=preferences.weekly,
                companies=list(preferences.companies),
                topics=list(preferences.topics),
                send_hour=preferences.send_hour,
                format=preferences.format,
            ),
        )


class SubscriberCreate(Request):
    email: str
    name: str = Field("", description="split into given and family name only if unambiguous")
    given_name: str = ""
    family_name: str = ""
    timezone: str | None = Field(None, description="IANA name (default: the site's)")
    preferences: PreferencesIn | None = None
    confirmed: bool = Field(
        False,
        description="already confirmed elsewhere: active at once, no double opt-in (needs the "
        "scope subscribers:import); otherwise pending until they confirm from the message sent",
    )


class SubscriberCreated(Answer):
    subscriber: SubscriberOut
    confirmation_planned: bool = Field(description="a confirmation email is in the outbox")


class SubscriberUpdate(Request):
    timezone: str | None = Field(None, description="IANA name")
    preferences: PreferencesIn | None = None


# Webhooks ----------------------------------------------------------------------------------


class EndpointOut(Answer):
    name: str
    url: str
    events: list[EventType] = Field(description="what it receives; empty: every event")
    source: Literal["settings", "api"] = Field(description="settings.yaml, or made by the API")
    failures: int = Field(description="failed attempts in a row")
    paused_until: datetime | None = Field(description="its events wait until then")
    last_error: str | None


class EndpointPage(Answer):
    data: list[EndpointOut]


class EndpointCreate(Request):
    name: str = Field(description="lower-case letters, digits, dots, hyphens, underscores")
    url: str
    events: list[EventType] = Field(default_factory=list, description="none: every event")


class EndpointCreated(Answer):
    endpoint: EndpointOut
    secret: str = Field(
        description="verify signatures with it (Standard Webhooks); shown only this once"
    )
