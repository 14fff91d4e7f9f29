"""Other services' subscriber exports, read as they come: Mailchimp, Substack and Buttondown.

Each row becomes a record of digest's own list format (`digest.ingest.subscribers`), checked by
the same rules, and the consent times its columns hold:

- Mailchimp: an audience export is three files, whose columns tell them apart: subscribed
  (`Email Address`, `First Name`, `Last Name`, `MEMBER_RATING`, `OPTIN_TIME`, `CONFIRM_TIME`,
  `TIMEZONE`, `LEID`, …), unsubscribed (those and `UNSUB_TIME`, `UNSUB_REASON`, …) and cleaned
  (`CLEAN_TIME`, …: addresses that bounced). Its times have no zone; they are read as UTC.
- Substack: `email`, `active_subscription`, `expiry`, `email_disabled`, `created_at`, …; a
  reader who turned their emails off (`email_disabled` true) is unsubscribed.
- Buttondown: `email` (or `email_address`), `creation_date`, `subscriber_type`, `tags`,
  `notes`, `metadata`, …; its types map as `SUBSCRIBER_TYPES` says.

None of them has an id that holds across services, so a subscriber's id is derived from the
address (`address_id`): importing the same file again, or the same people from another service,
updates them instead of adding them twice. Other columns (ratings, IPs, tags, notes, the
audience's own fields) are not read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from digest.errors import Problem
from digest.ingest.checks import normal_email, quoted
from digest.ingest.fields import Loc
from digest.models import Consent, SubscriberStatus

Cells = Mapping[str, str]

# Buttondown's subscriber types (its API's SubscriberType) → a status here. The paid and trial
# kinds still get the newsletter; "removed" (by the newsletter) and "spammy" (by Buttondown's
# checks) must not be mailed, and only their owner can come back, through the subscribe form.
SUBSCRIBER_TYPES = {
    "regular": SubscriberStatus.ACTIVE,
    "premium": SubscriberStatus.ACTIVE,
    "trialed": SubscriberStatus.ACTIVE,
    "unpaid": SubscriberStatus.ACTIVE,
    "gifted": SubscriberStatus.ACTIVE,
    "churning": SubscriberStatus.ACTIVE,
    "paused": SubscriberStatus.ACTIVE,
    "past_due": SubscriberStatus.ACTIVE,
    "unactivated": SubscriberStatus.PENDING,
    "unsubscribed": SubscriberStatus.UNSUBSCRIBED,
    "removed": SubscriberStatus.UNSUBSCRIBED,
    "spammy": SubscriberStatus.UNSUBSCRIBED,
}


@dataclass(frozen=True, slots=True)
class Row:
    """One row of an export as digest's list format has it, and its consent times."""

    record: dict[str, object]
    consent: Consent


@dataclass(frozen=True, slots=True)
class Service:
    name: str  # as `--from` takes it
    label: str
    emails: tuple[str, ...]  # the address's column, as its exports have named it
    # Columns only its exports have: the header is recognised by one of them.
    marks: frozenset[str]
    read: Callable[[Cells, Loc, list[Problem]], Row | None]
    # digest's field → the export's column, to name it in problems (the address's: `emails`)
    columns: Mapping[str, str]

    def email_column(self, header: Collection[str]) -> str | None:
        return next((column for column in self.emails if column in header), None)


def address_id(email: str) -> str:
    """A subscriber id that is the same wherever the address comes from (and says nothing of
    it: the id appears in links)."""
    key = normal_email(email.strip()).lower()  # as the store tells addresses apart
    return "sub-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _time(cells: Cells, column: str, loc: Loc, problems: list[Problem]) -> datetime | None:
    text = cells.get(column, "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        message = f"{quoted(text)} is not a date and time; write it as 2026-11-30 09:00:00"
        problems.append(Problem(loc.where, loc.record, column, message))
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _record(email: str, status: SubscriberStatus, **fields: str) -> dict[str, object]:
    record: dict[str, object] = {"id": address_id(email), "email": email, "status": status.value}
    record.update((key, value) for key, value in fields.items() if value)
    return record


def _mailchimp(cells: Cells, loc: Loc, problems: list[Problem]) -> Row | None:
    if "CLEAN_TIME" in cells:
        status = SubscriberStatus.BOUNCED  # "cleaned": it bounced
    elif "UNSUB_TIME" in cells:
        status = SubscriberStatus.UNSUBSCRIBED
    else:
        status = SubscriberStatus.ACTIVE
    consent = Consent(
        opted_in_at=_time(cells, "OPTIN_TIME", loc, problems),
        confirmed_at=_time(cells, "CONFIRM_TIME", loc, problems),
        unsubscribed_at=_time(cells, "UNSUB_TIME", loc, problems),
    )
    record = _record(
        cells.get("Email Address", ""),
        status,
        first_name=cells.get("First Name", ""),
        last_name=cells.get("Last Name", ""),
        timezone=cells.get("TIMEZONE", ""),
    )
    return Row(record, consent)


def _substack(cells: Cells, loc: Loc, problems: list[Problem]) -> Row | None:
    disabled = cells.get("email_disabled", "").strip().lower()
    if disabled not in ("", "true", "false"):
        message = f"{quoted(disabled)} is not true or false"
        problems.append(Problem(loc.where, loc.record, "email_disabled", message))
        return None
    status = SubscriberStatus.UNSUBSCRIBED if disabled == "true" else SubscriberStatus.ACTIVE
    consent = Consent(opted_in_at=_time(cells, "created_at", loc, problems))
    return Row(_record(cells.get("email", ""), status, name=cells.get("name", "")), consent)


def _buttondown(cells: Cells, loc: Loc, problems: list[Problem]) -> Row | None:
    kind = cells.get("subscriber_type", "").strip().lower() or "regular"
    status = SUBSCRIBER_TYPES.get(kind)
    if status is None:
        message = (
            f"{quoted(kind)} is not a Buttondown subscriber type; ({', '.join(SUBSCRIBER_TYPES)})"
        )
        problems.append(Problem(loc.where, loc.record, "subscriber_type", message))
        return None
    consent = Consent(opted_in_at=_time(cells, "creation_date", loc, problems))
    email = cells.get("email", cells.get("email_address", ""))
    return Row(_record(email, status), consent)


SERVICES = {
    service.name: service
    for service in (
        Service(
            name="mailchimp",
            label="Mailchimp",
            emails=("Email Address",),
            marks=frozenset({"MEMBER_RATING", "OPTIN_TIME", "CONFIRM_TIME", "LEID", "EUID"}),
            read=_mailchimp,
            columns={"first_name": "First Name", "last_name": "Last Name", "timezone": "TIMEZONE"},
        ),
        Service(
            name="substack",
            label="Substack",
            emails=("email",),
            marks=frozenset({"active_subscription", "email_disabled", "expiry"}),
            read=_substack,
            columns={"name": "name"},
        ),
        Service(
            name="buttondown",
            label="Buttondown",
            emails=("email", "email_address"),
            marks=frozenset({"subscriber_type", "creation_date"}),
            read=_buttondown,
            columns={},
        ),
    )
}


def service_of(header: Sequence[str]) -> Service | None:
    """The service whose export has this header, if exactly one is recognised."""
    columns = set(header)
    found = [
        service
        for service in SERVICES.values()
        if service.email_column(columns) and service.marks & columns
    ]
    return found[0] if len(found) == 1 else None
