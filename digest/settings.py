"""settings.yaml: read, interpolated and validated into typed, frozen objects at start.

Every dataclass below is a section; `parse_section` walks the type hints, so a field added here is
validated without more code. Unknown keys are errors that name their path and the nearest known
key; `${VAR}` and `${VAR:-default}` are replaced from the environment before validation; a value
typed `Secret` never prints.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from limits import parse_many

from digest.errors import ConfigError, Problem
from digest.events import events_problem, secret_problem

SETTINGS_VERSION = 1
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Secret:
    """A value read from settings that must never be printed, logged or shown in an error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SectionProblems(Exception):
    """Raised by a section's `check` hook: (field, message) pairs relative to that section."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))


def _is_http_url(value: str) -> bool:
    return re.match(r"^https?://[^/\s:]+", value) is not None


@dataclass(frozen=True, slots=True)
class SiteSettings:
    name: str
    base_url: str  # where the web app is reached: links in every email point here
    from_address: str  # "AMW Digest <digest@news.example.org>"
    list_id: str  # RFC 2919 list id, "weekly.news.example.org"
    secret_key: Secret  # signs the links in emails
    timezone: str = "UTC"
    # The local hour (0–23) emails go out for subscribers who chose none, in their time zone
    # (the site's when they chose none either).
    send_hour: int = 8
    templates: str | None = None  # a folder whose templates override the packaged ones
    # The List-Unsubscribe mailto (the subscriber's signed token in its subject). Written into
    # emails only when `unsubscribe_mailto_reader` names the provider whose inbound route posts
    # that mail to /webhooks/…: a mailto nothing reads would be a promise nobody keeps.
    unsubscribe_mailto: str | None = None
    unsubscribe_mailto_reader: Literal["postmark", "mailgun", "ses"] | None = None
    # The sender's postal address, in every email's footer (CAN-SPAM); required to send
    # through a real email adapter.
    postal_address: str | None = None

    def check(self) -> None:
        problems = []
        if not _is_http_url(self.base_url):
            problems.append(("base_url", f"{self.base_url!r} is not an http(s) URL"))
        if not re.fullmatch(r"[A-Za-z0-9.-]+", self.list_id):
            problems.append(("list_id", "use letters, digits, dots and hyphens only"))
        if len(self.secret_key.reveal()) < 16:
            problems.append(("secret_key", "too short: use at least 16 random characters"))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(("timezone", f"unknown time zone {self.timezone!r}; use an IANA name"))
        if not 0 <= self.send_hour <= 23:
            problems.append(("send_hour", f"{self.send_hour} is not an hour; use 0 to 23"))
        if "\n" in self.from_address or "\r" in self.from_address or "@" not in self.from_address:
            problems.append(("from_address", "write it as 'Name <address@domain>'"))
        if self.unsubscribe_mailto_reader is not None and not self.unsubscribe_mailto:
            problems.append(
                ("unsubscribe_mailto_reader", "set unsubscribe_mailto, the address it reads")
            )
        if self.unsubscribe_mailto is not None and not re.fullmatch(
            r"[^@\s<>,?]+@[A-Za-z0-9.-]+", self.unsubscribe_mailto.removeprefix("mailto:")
        ):
            problems.append(("unsubscribe_mailto", "write a plain address: unsubscribe@domain"))
        if self.postal_address is not None and (
            not self.postal_address.strip() or not self.postal_address.isprintable()
        ):
            problems.append(
                ("postal_address", "write it on one line, its parts separated by commas")
            )
        if problems:
            raise SectionProblems(*problems)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def read_unsubscribe_mailto(self) -> str | None:
        """The unsubscribe address, if something reads the mail sent to it; else None."""
        if self.unsubscribe_mailto_reader is None or not self.unsubscribe_mailto:
            return None
        return self.unsubscribe_mailto.removeprefix("mailto:")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    # A Secret: the URL may carry a password.
    url: Secret = field(default_factory=lambda: Secret("sqlite:///digest.db"))


@dataclass(frozen=True, slots=True)
class CronSchedule:
    cron: str  # five crontab fields, in the site's time zone
    enabled: bool = True

    def check(self) -> None:
        try:
            CronTrigger.from_crontab(self.cron)
        except ValueError as error:
            message = f"{error}; write five fields like '0 7 * * mon'"
            raise SectionProblems(("cron", message)) from None


@dataclass(frozen=True, slots=True)
class IngestSchedule:
    """Pull the site's own feeds (RSS, Atom, JSON Feed) into the store on a schedule."""

    urls: tuple[str, ...] = ()
    cron: str = "*/15 * * * *"
    enabled: bool = True

    def check(self) -> None:
        CronSchedule(self.cron).check()
        if self.enabled and not self.urls:
            raise SectionProblems(("urls", "list the feeds to pull, or set enabled: false"))
        for index, url in enumerate(self.urls):
            if not _is_http_url(url):
                raise SectionProblems((f"urls[{index}]", f"{url!r} is not an http(s) URL"))


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    weekly: CronSchedule = CronSchedule("0 7 * * mon")
    company: CronSchedule = CronSchedule("0 8 * * mon")
    ingest: IngestSchedule = IngestSchedule(enabled=False)  # on once it lists urls
    misfire_grace_seconds: int = 6 * 3600


@dataclass(frozen=True, slots=True)
class WeeklyDigestSettings:
    top: int = 10  # how many items the weekly digest keeps
    require_approval: bool = False

    def check(self) -> None:
        if not 1 <= self.top <= 100:
            raise SectionProblems(("top", "must be from 1 to 100"))


@dataclass(frozen=True, slots=True)
class CompanyDigestSettings:
    connections: int = 6  # how many items each timeline of "How This Connects" lists
    lookback_days: int = 120  # how far back connections are searched
    require_approval: bool = False

    def check(self) -> None:
        if not 0 <= self.connections <= 50:
            raise SectionProblems(("connections", "must be from 0 to 50"))


@dataclass(frozen=True, slots=True)
class DeclaredTopic:
    name: str
    hashtag: str | None = None  # without "#"; None: derived from the name where needed


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """The controlled list of topics: those of the stored items plus these. An item topic not on
    it is a warning at ingest, or with `strict` an error."""

    declared: tuple[DeclaredTopic | str, ...] = ()  # a name, or {name, hashtag}
    strict: bool = False

    def check(self) -> None:
        names = [
            topic.name if isinstance(topic, DeclaredTopic) else topic for topic in self.declared
        ]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise SectionProblems(("declared", f"each topic once: {duplicates} twice"))
        for index, topic in enumerate(self.declared):
            hashtag = topic.hashtag if isinstance(topic, DeclaredTopic) else None
            if hashtag is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", hashtag):
                message = "letters and digits, starting with a letter, without #"
                raise SectionProblems((f"declared[{index}].hashtag", message))

    def hashtags(self) -> dict[str, str | None]:
        """The declared topics by name, with their hashtags (None where none is declared)."""
        return {
            topic.name if isinstance(topic, DeclaredTopic) else topic: (
                topic.hashtag if isinstance(topic, DeclaredTopic) else None
            )
            for topic in self.declared
        }

    def controlled(self, stored: Mapping[str, str | None]) -> dict[str, str | None]:
        """The controlled list: the store's topics (name → declared hashtag) and these; a hashtag
        from an input wins, one from here fills in where the input gave none."""
        merged = self.hashtags()
        for name, hashtag in stored.items():
            merged[name] = hashtag or merged.get(name)
        return dict(sorted(merged.items()))


@dataclass(frozen=True, slots=True)
class DigestSettings:
    weekly: WeeklyDigestSettings = WeeklyDigestSettings()
    company: CompanyDigestSettings = CompanyDigestSettings()
    topics: TopicSettings = TopicSettings()


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float | None = None
    per_hour: int | None = None


@dataclass(frozen=True, slots=True)
class UnknownOutcomeSettings:
    """An email the server may have taken without answering (the connection dropped after the
    final dot): sent again `retries` times, `delay_seconds` later, with the same Message-ID (a
    receiver that has it may drop the copy); then held for an editor (`digest held`). 0 retries
    holds it at once."""

    retries: int = 1
    delay_seconds: float = 900.0

    def check(self) -> None:
        problems = []
        if not 0 <= self.retries <= 5:
            problems.append(("retries", "must be from 0 to 5"))
        if self.delay_seconds < 0:
            problems.append(("delay_seconds", "must be 0 or more"))
        if problems:
            raise SectionProblems(*problems)


@dataclass(frozen=True, slots=True)
class DkimKeySettings:
    selector: str  # the key's DNS name is <selector>._domainkey.<domain>
    private_key: Secret  # PEM text, from the environment


@dataclass(frozen=True, slots=True)
class DkimSettings:
    """DKIM signing of every message; the keys themselves are checked when sending starts."""

    selector: str
    domain: str  # d=: the From address's domain (or its parent) for DMARC alignment
    private_key: Secret
    second: DkimKeySettings | None = None  # a second signature (ed25519 beside rsa)

    def check(self) -> None:
        if self.second is not None and self.second.selector == self.selector:
            raise SectionProblems(("second.selector", "give the second key its own selector"))


@dataclass(frozen=True, slots=True)
class EmailSettings:
    type: str = "file"  # the adapter, by its registry name
    options: Mapping[str, Any] = field(default_factory=dict)  # validated by the adapter
    rate: RateLimit = RateLimit()
    # A run pauses, saying why, after this many failures in a row (a dead relay, a revoked key).
    max_consecutive_failures: int = 20
    batch: int = 200  # rows a worker claims at a time
    # How long a claimed row stays a worker's; a worker that dies leaves its rows to others
    # after this. Keep it well above the time one batch takes to send.
    lease_seconds: float = 300.0
    unknown_outcome: UnknownOutcomeSettings = UnknownOutcomeSettings()
    dkim: DkimSettings | None = None  # sign every message (RFC 6376)

    def check(self) -> None:
        problems = []
        if self.max_consecutive_failures < 1:
            problems.append(("max_consecutive_failures", "must be at least 1"))
        if not 1 <= self.batch <= 10_000:
            problems.append(("batch", "must be from 1 to 10000"))
        if self.lease_seconds < 1:
            problems.append(("lease_seconds", "must be at least 1"))
        if problems:
            raise SectionProblems(*problems)


_CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_SPACING = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?$")


def _clock_time(text: str) -> time | None:
    match = _CLOCK_TIME.match(text)
    return time(int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True, slots=True)
class SocialChannelSettings:
    name: str  # the channel's own name, unique: "x", "mastodon-main"
    type: str  # the adapter, by its registry name
    platform: str | None = None  # whose rules posts follow; adapters that post somewhere imply it
    options: Mapping[str, Any] = field(default_factory=dict)
    rate: RateLimit = RateLimit()
    # When posts go out, one per slot: local times of day (`slots: ["09:00", "17:30"]`), or
    # every `spacing` ("90m", "1h30m") within `window` (["08:00", "20:00"]). Neither: at once.
    slots: tuple[str, ...] = ()
    spacing: str | None = None
    window: tuple[str, ...] = ("00:00", "23:59")
    timezone: str | None = None  # of the slots; the site's by default
    # The channel pauses for the rest of a run after this many failures in a row (an expired
    # token, a service down): its other posts wait for the next run instead of failing too.
    max_consecutive_failures: int = 3
    campaign: bool | None = None  # its links' utm_ parameters; None: as `campaign.social` says

    def check(self) -> None:
        problems = []
        if self.max_consecutive_failures < 1:
            problems.append(("max_consecutive_failures", "must be at least 1"))
        for index, text in enumerate(self.slots):
            if _clock_time(text) is None:
                problems.append((f"slots[{index}]", f"{text!r} is not a time: write it as 09:30"))
        if len(set(self.slots)) != len(self.slots):
            problems.append(("slots", "each time once"))
        if self.slots and self.spacing is not None:
            problems.append(("spacing", "give slots or spacing, not both"))
        if self.spacing is not None and self._spacing_minutes() is None:
            problems.append(
                ("spacing", f"{self.spacing!r}: from 15m to 24h, written as 90m, 2h or 1h30m")
            )
        if self._window() is None:
            problems.append(("window", 'two times, the first earlier: ["08:00", "20:00"]'))
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(
                    ("timezone", f"unknown time zone {self.timezone!r}; use an IANA name")
                )
        if problems:
            raise SectionProblems(*problems)

    def _spacing_minutes(self) -> int | None:
        match = _SPACING.match(self.spacing or "")
        if match is None or not (match[1] or match[2]):
            return None
        minutes = int(match[1] or 0) * 60 + int(match[2] or 0)
        # At least 15 minutes: a thread's parts, a minute apart, stay within their slot.
        return minutes if 15 <= minutes <= 24 * 60 else None

    def _window(self) -> tuple[time, time] | None:
        if len(self.window) != 2:
            return None
        start, end = _clock_time(self.window[0]), _clock_time(self.window[1])
        return (start, end) if start is not None and end is not None and start < end else None

    def posting_times(self) -> tuple[time, ...]:
        """The local times of day the channel posts at, in order; empty: it posts at once."""
        if self.slots:
            return tuple(sorted(t for t in map(_clock_time, self.slots) if t is not None))
        minutes = self._spacing_minutes()
        if minutes is None:
            return ()
        window = self._window()
        assert window is not None  # checked
        start, end = window
        first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        return tuple(time(m // 60, m % 60) for m in range(first, last + 1, minutes))

    def posting_zone(self, site: SiteSettings) -> ZoneInfo:
        return ZoneInfo(self.timezone) if self.timezone else site.zone


@dataclass(frozen=True, slots=True)
class EditorSettings:
    """How people log in to /editor/: with their accounts (`digest editor add`, stored in the
    database); the token is only an admin's bootstrap, until an admin account exists."""

    token: Secret | None = None  # a long random string that logs in as an admin, once
    session_minutes: int = 480  # a login lasts this long, then the editor logs in again

    def check(self) -> None:
        problems = []
        if self.token is not None and len(self.token.reveal()) < 24:
            problems.append(("token", "too short: use at least 24 random characters"))
        if not 5 <= self.session_minutes <= 7 * 24 * 60:
            problems.append(("session_minutes", "must be from 5 to 10080 (a week)"))
        if problems:
            raise SectionProblems(*problems)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """Bounce and complaint webhooks (/webhooks/…, docs/webhooks.md): a provider whose secret is
    not set has no endpoint (404), so nothing unsigned can ever change a subscriber."""

    postmark_username: Secret | None = None  # the basic-auth pair put in Postmark's webhook URL
    postmark_password: Secret | None = None
    mailgun_signing_key: Secret | None = None  # Mailgun's "HTTP webhook signing key"
    mailgun_max_age_seconds: int = 300  # an older signed timestamp is a replay: refused
    # SES through SNS: only notifications from these topics count. Not secret (an ARN is an
    # address, not a key); an empty entry from an unset ${VAR:-} is ignored.
    sns_topic_arns: tuple[str, ...] = ()

    def check(self) -> None:
        problems = []
        if (self.postmark_username is None) != (self.postmark_password is None):
            problems.append(("postmark_password", "set both postmark_username and the password"))
        if self.mailgun_signing_key is not None and len(self.mailgun_signing_key.reveal()) < 16:
            problems.append(("mailgun_signing_key", "too short: copy the whole key from Mailgun"))
        if not 30 <= self.mailgun_max_age_seconds <= 3600:
            problems.append(("mailgun_max_age_seconds", "must be from 30 to 3600"))
        for arn in self.topics:
            if not re.fullmatch(r"arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+", arn):
                problems.append(("sns_topic_arns", f"not an SNS topic ARN: {arn!r}"))
        if problems:
            raise SectionProblems(*problems)

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(arn.strip() for arn in self.sns_topic_arns if arn.strip())

    def receives(self, provider: str) -> bool:
        """Whether the provider's endpoints exist (its secret is set)."""
        return {
            "postmark": self.postmark_username is not None,
            "mailgun": self.mailgun_signing_key is not None,
            "ses": bool(self.topics),
        }[provider]


# What each provider's webhooks need before they exist (for the error that names it).
_WEBHOOK_SECRETS = {
    "postmark": "postmark_username and postmark_password",
    "mailgun": "mailgun_signing_key",
    "ses": "sns_topic_arns",
}


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """The JSON API under /api/v1 (docs/api.md); tokens come from `digest api-token create`."""

    # Requests per token, in `limits` notation ("600/minute;20000/hour"); more answer 429.
    rate_limit: str = "600/minute;20000/hour"
    page_size: int = 50  # rows per page when a request does not say (`limit`)

    def check(self) -> None:
        problems = []
        try:
            parse_many(self.rate_limit)
        except ValueError:
            problems.append(("rate_limit", "write it like '600/minute;20000/hour'"))
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            problems.append(("page_size", f"must be from 1 to {MAX_PAGE_SIZE}"))
        if problems:
            raise SectionProblems(*problems)


MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class WebSettings:
    host: str = "127.0.0.1"  # loopback unless configured: the editor must not face a network
    port: int = 8000
    # Addresses whose X-Forwarded-Proto/-For are believed: the TLS proxy in front of the app.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    editor: EditorSettings = EditorSettings()
    webhooks: WebhookSettings = WebhookSettings()
    api: ApiSettings = ApiSettings()


ENDPOINT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")


@dataclass(frozen=True, slots=True)
class WebhookEndpointSettings:
    """One receiver of the outgoing webhooks, signed with its own secret."""

    name: str  # unique among the endpoints, those made through the API included
    url: str
    secret: Secret  # "whsec_" and base64 of 32 random bytes, from ${ENV}
    events: tuple[str, ...] = ()  # the events it receives; none listed: every event

    def check(self) -> None:
        problems = []
        if not ENDPOINT_NAME.fullmatch(self.name):
            problems.append(("name", "use lower-case letters, digits, dots, hyphens, underscores"))
        if not _is_http_url(self.url):
            problems.append(("url", f"{self.url!r} is not an http(s) URL"))
        if problem := secret_problem(self.secret.reveal()):
            problems.append(("secret", problem))
        if problem := events_problem(self.events):
            problems.append(("events", problem))
        if problems:
            raise SectionProblems(*problems)


@dataclass(frozen=True, slots=True)
class OutgoingWebhookSettings:
    """Events sent to other systems (docs/api.md#webhooks), through the outbox."""

    endpoints: tuple[WebhookEndpointSettings, ...] = ()
    # An endpoint whose attempts failed this many times in a row is paused (its events wait)...
    max_failures: int = 5
    pause_minutes: int = 60  # ...for this long, then tried again; the API can resume it sooner
    timeout_seconds: float = 10.0

    def check(self) -> None:
        problems = []
        names = [endpoint.name for endpoint in self.endpoints]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            problems.append(("endpoints", f"endpoint names must be unique: {duplicates}"))
        if not 1 <= self.max_failures <= 100:
            problems.append(("max_failures", "must be from 1 to 100"))
        if not 1 <= self.pause_minutes <= 7 * 24 * 60:
            problems.append(("pause_minutes", "must be from 1 to 10080 (a week)"))
        if not 1 <= self.timeout_seconds <= 60:
            problems.append(("timeout_seconds", "must be from 1 to 60"))
        if problems:
            raise SectionProblems(*problems)


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    """What readers did (docs/engagement.md): off unless turned on, per digest kind."""

    weekly: bool = False  # the weekly digest's links go through /r/ and are counted
    company: bool = False  # the company digests' links, likewise
    social: bool = False  # links in social posts, likewise (clicks per channel and post)
    opens: bool = False  # a 1x1 pixel in tracked emails; opens are only ever estimates
    # Who clicked, not only how many: the links carry the subscriber (erased by `forget`).
    per_subscriber: bool = False
    link_days: int | None = None  # tracked links stop redirecting this long after sending
    raw_days: int = 30  # raw events are kept this long; the hourly counts are kept
    scanner_seconds: int = 10  # a click this soon after delivery is a link scanner's
    burst_seconds: float = 5.0  # this many different links of one message hit within ...
    burst_links: int = 3  # ... these seconds: a scanner following every link
    flush_seconds: float = 1.0  # how often the web app writes its batch of hits

    def check(self) -> None:
        problems = []
        if self.link_days is not None and self.link_days < 1:
            problems.append(("link_days", "must be at least 1, or null for links that last"))
        if not 1 <= self.raw_days <= 3660:
            problems.append(("raw_days", "must be from 1 to 3660"))
        if not 0 <= self.scanner_seconds <= 3600:
            problems.append(("scanner_seconds", "must be from 0 to 3600"))
        if not 0.5 <= self.burst_seconds <= 60:
            problems.append(("burst_seconds", "must be from 0.5 to 60"))
        if not 2 <= self.burst_links <= 50:
            problems.append(("burst_links", "must be from 2 to 50"))
        if not 0.1 <= self.flush_seconds <= 60:
            problems.append(("flush_seconds", "must be from 0.1 to 60"))
        if problems:
            raise SectionProblems(*problems)

    def tracks(self, kind: str) -> bool:
        """Whether emails of this digest kind ("weekly", "company") carry tracked links."""
        return {"weekly": self.weekly, "company": self.company}.get(str(kind), False)


_MEDIUM = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """Campaign (utm_) parameters on the links the project writes, so that the site's analytics
    see what each channel brought: utm_source is the platform ("x", "bluesky", …) or "email",
    utm_medium the medium below, utm_campaign the digest's key. Off unless turned on."""

    email: bool = False  # links in emails
    social: bool = False  # links in posts; a channel's own `campaign:` overrides it
    email_medium: str = "email"
    social_medium: str = "social"

    def check(self) -> None:
        problems = [
            (name, "letters, digits, '.', '_' or '-', at most 40")
            for name in ("email_medium", "social_medium")
            if not _MEDIUM.fullmatch(getattr(self, name))
        ]
        if problems:
            raise SectionProblems(*problems)

    def for_channel(self, channel: SocialChannelSettings) -> bool:
        """Whether a social channel's links carry the parameters."""
        return self.social if channel.campaign is None else channel.campaign


@dataclass(frozen=True, slots=True)
class Settings:
    version: Literal[1]
    site: SiteSettings
    database: DatabaseSettings = DatabaseSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    digests: DigestSettings = DigestSettings()
    email: EmailSettings = EmailSettings()
    social: tuple[SocialChannelSettings, ...] = ()
    web: WebSettings = WebSettings()
    tracking: TrackingSettings = TrackingSettings()
    campaign: CampaignSettings = CampaignSettings()
    outgoing_webhooks: OutgoingWebhookSettings = OutgoingWebhookSettings()
    # Not keys of the file: where it was read from, the folder relative paths start from, and
    # the key paths whose ${VAR:-default} fell back to its default (VAR was not set).
    source: str = field(default="settings.yaml", metadata={"internal": True})
    root: Path = field(default=Path("."), metadata={"internal": True})
    defaulted: frozenset[str] = field(default=frozenset(), metadata={"internal": True})

    def check(self) -> None:
        names = [channel.name for channel in self.social]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise SectionProblems(("social", f"channel names must be unique: {duplicates}"))
        reader = self.site.unsubscribe_mailto_reader
        if reader is not None and not self.web.webhooks.receives(reader):
            needs = _WEBHOOK_SECRETS[reader]
            raise SectionProblems(
                ("site", f"unsubscribe_mailto_reader: {reader} needs web.webhooks.{needs}")
            )

    def resolve(self, path: str | Path) -> Path:
        """A path from the settings, relative to the settings' folder unless absolute."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else self.root / path

    def database_url(self) -> str:
        """The database URL, a relative SQLite path taken from the settings' folder."""
        url = self.database.url.reveal()
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix:
            return prefix + str(self.resolve(url[len(prefix) :]))
        return url


def load_settings(path: str | Path, *, root: Path | None = None) -> Settings:
    """Read, interpolate and validate a settings file; raise ConfigError naming every problem."""
    path = Path(path)
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [Problem(where, "", "", "no such file; pass --settings PATH or create it")]
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        record = f"line {mark.line + 1}" if mark else ""
        raise ConfigError([Problem(where, record, "", f"not valid YAML: {error}")]) from None
    return parse_settings(raw, where=where, root=root or path.resolve().parent)


def parse_settings(raw: object, *, where: str, root: Path) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError([Problem(where, "", "", "must be a mapping of sections")])
    problems: list[Problem] = []
    defaulted: set[str] = set()
    interpolated = _interpolate(raw, "", where, problems, defaulted)
    if raw.get("version") != SETTINGS_VERSION:
        problems.append(
            Problem(where, "", "version", f"must be {SETTINGS_VERSION}; add 'version: 1'")
        )
    settings = parse_section(Settings, interpolated, "", where, problems)
    if problems or not isinstance(settings, Settings):
        raise ConfigError(problems)
    return dataclasses.replace(settings, source=where, root=root, defaulted=frozenset(defaulted))


def _interpolate(
    value: Any, path: str, where: str, problems: list[Problem], defaulted: set[str]
) -> Any:
    if isinstance(value, dict):
        return {
            key: _interpolate(item, _join(path, str(key)), where, problems, defaulted)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate(item, f"{path}[{index}]", where, problems, defaulted)
            for index, item in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            defaulted.add(path)
            return default
        problems.append(
            Problem(where, "", path, f"environment variable {name} is not set; export it")
        )
        return ""

    return _ENV_REFERENCE.sub(substitute, value)


# Keys an earlier version read, and what took their place: an old settings.yaml says what to do.
REMOVED_KEYS = {
    "web.editor.password_hash": (
        "editors log in with their own accounts; make one with "
        "`digest editor add NAME EMAIL --role admin`"
    ),
    "web.editor.secure_cookie": (
        "the session cookie is Secure whenever the request came over https "
        "(through a proxy listed in web.trusted_proxies)"
    ),
}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_section(
    cls: type, raw: Any, path: str, where: str, problems: list[Problem]
) -> object | None:
    """Build dataclass `cls` from `raw`, appending a Problem for each thing wrong with it."""
    if not isinstance(raw, Mapping):
        problems.append(Problem(where, "", path, f"must be a mapping, got {_kind(raw)}"))
        return None
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    fields = {name: f for name, f in fields.items() if not f.metadata.get("internal")}
    public = list(fields)
    ok = True
    for key in raw:
        if key not in fields:
            key_path = _join(path, str(key))
            if key_path in REMOVED_KEYS:
                message = f"no longer a setting: {REMOVED_KEYS[key_path]}; delete the key"
            else:
                close = difflib.get_close_matches(str(key), public, n=1)
                hint = (
                    f", did you mean {close[0]}?" if close else f"; known keys: {', '.join(public)}"
                )
                message = f"unknown key{hint}"
            problems.append(Problem(where, "", key_path, message))
            ok = False
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key_path = _join(path, name)
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(Problem(where, "", key_path, "required; add it"))
                ok = False
            continue
        before = len(problems)
        values[name] = _convert(hints[name], raw[name], key_path, where, problems)
        ok = ok and len(problems) == before
    if not ok:
        return None
    section = cls(**values)
    check = getattr(section, "check", None)
    if check is not None:
        try:
            check()
        except SectionProblems as error:
            for key, message in error.problems:
                problems.append(Problem(where, "", _join(path, key), message))
            return None
    return section


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _convert(hint: Any, value: Any, path: str, where: str, problems: list[Problem]) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if value == "" and Secret in args and type(None) in args:
            return None  # an optional secret from an unset ${VAR:-}: not configured
        choices = [arg for arg in args if arg is not type(None)]
        if str in choices and len(choices) == 2:
            # Text or a section (a topic's name, or its {name, hashtag}): text picks str.
            choices = (
                [str] if isinstance(value, str) else [arg for arg in choices if arg is not str]
            )
        (inner,) = choices
        return _convert(inner, value, path, where, problems)
    if origin is Literal:
        if value not in args:
            problems.append(Problem(where, "", path, f"must be one of {list(args)}, got {value!r}"))
        return value
    if origin is tuple:
        if not isinstance(value, list):
            problems.append(Problem(where, "", path, f"must be a list, got {_kind(value)}"))
            return ()
        return tuple(
            _convert(args[0], item, f"{path}[{index}]", where, problems)
            for index, item in enumerate(value)
        )
    if origin is Mapping or hint is Mapping:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            problems.append(Problem(where, "", path, f"must be a mapping, got {_kind(value)}"))
        return dict(value) if isinstance(value, Mapping) else {}
    if dataclasses.is_dataclass(hint):
        return parse_section(hint, value, path, where, problems)  # type: ignore[arg-type]
    if hint is Secret:
        if not isinstance(value, str) or not value:
            problems.append(Problem(where, "", path, "must be a non-empty text (use ${ENV_VAR})"))
        return Secret(str(value))
    return _convert_scalar(hint, value, path, where, problems)


def _convert_scalar(hint: Any, value: Any, path: str, where: str, problems: list[Problem]) -> Any:
    # YAML gives bools for yes/no and ints for bare numbers; "True is an int" must not pass.
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)  # an interpolated ${ENV} is always text
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"settings field type {hint!r} at {path} is not supported")
    problems.append(
        Problem(where, "", path, f"must be {hint.__name__}, got {_kind(value)} {value!r}")
    )
    return value
