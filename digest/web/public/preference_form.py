"""The preference centre's form → Preferences and a time zone, or what is wrong with it. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData

from digest.ingest.checks import timezone_problem
from digest.ingest.subscribers import Followable
from digest.models import Preferences


@dataclass(frozen=True, slots=True)
class PreferenceChoice:
    preferences: Preferences
    timezone: str


def read_preferences(form: FormData, followable: Followable) -> PreferenceChoice | dict[str, str]:
    """The choice, or {field: problem} for every bad field (nothing is saved then).

    A company or topic must be one that exists (`followable`), as at import: a choice kept from
    an old import, a stale page or a hand-made request is named, with a suggestion.
    """
    problems: dict[str, str] = {}
    chosen_companies = _texts(form, "companies")
    unknown = [p for p in map(followable.company_problem, chosen_companies) if p]
    if unknown:
        problems["companies"] = "; ".join(unknown)
    chosen_topics = _texts(form, "topics")
    unknown = [p for p in map(followable.topic_problem, chosen_topics) if p]
    if unknown:
        problems["topics"] = "; ".join(unknown)
    email_format = _text(form, "format")
    if email_format not in ("html", "text"):
        problems["format"] = "choose HTML or plain text"
    timezone = _text(form, "timezone")
    zone_problem = timezone_problem(timezone) if timezone else "choose your time zone"
    if zone_problem:
        problems["timezone"] = zone_problem
    hour_text = _text(form, "send_hour")
    hour = int(hour_text) if hour_text.isdigit() and len(hour_text) <= 2 else -1
    if not 0 <= hour <= 23:
        problems["send_hour"] = "choose an hour from 0 to 23"
    if problems:
        return problems
    return PreferenceChoice(
        preferences=Preferences(
            weekly=_text(form, "weekly") == "on",
            companies=tuple(dict.fromkeys(chosen_companies)),
            topics=tuple(dict.fromkeys(chosen_topics)),
            send_hour=hour,
            format="text" if email_format == "text" else "html",
        ),
        timezone=timezone,
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _texts(form: FormData, name: str) -> list[str]:
    return [value.strip() for value in form.getlist(name) if isinstance(value, str)]
