"""The preference centre's form → Preferences and a time zone, or what is wrong with it. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData

from digest.ingest.checks import timezone_problem
from digest.ingest.subscribers import Followable
from digest.models import Preferences
from digest.web.public.forms import form_text, form_texts


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
    chosen_companies = form_texts(form, "companies")
    unknown = [p for p in map(followable.company_problem, chosen_companies) if p]
    if unknown:
        problems["companies"] = "; ".join(unknown)
    chosen_topics = form_texts(form, "topics")
    unknown = [p for p in map(followable.topic_problem, chosen_topics) if p]
    if unknown:
        problems["topics"] = "; ".join(unknown)
    email_format = form_text(form, "format")
    if email_format not in ("html", "text"):
        problems["format"] = "choose HTML or plain text"
    timezone = form_text(form, "timezone")
    zone_problem = timezone_problem(timezone) if timezone else "choose your time zone"
    if zone_problem:
        problems["timezone"] = zone_problem
    hour_text = form_text(form, "send_hour")
    hour = int(hour_text) if hour_text.isdigit() and len(hour_text) <= 2 else -1
    if not 0 <= hour <= 23:
        problems["send_hour"] = "choose an hour from 0 to 23"
    if problems:
        return problems
    return PreferenceChoice(
        preferences=Preferences(
            weekly=form_text(form, "weekly") == "on",
            companies=tuple(dict.fromkeys(chosen_companies)),
            topics=tuple(dict.fromkeys(chosen_topics)),
            send_hour=hour,
            format="text" if email_format == "text" else "html",
        ),
        timezone=timezone,
    )
