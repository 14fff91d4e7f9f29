"""The one Jinja2 environment every renderer uses, and the filters its templates need.

A deployment's own template folder (settings `site.templates`) comes first, the packaged
`templates/` behind it, so a deployment overrides any single file and inherits the rest.
Untrusted text (titles, summaries, reads, names) only ever reaches a template as data in the
render context: nothing here compiles a template from a string.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from digest.models import Connection, Digest, Entry, NewsItem
from digest.render.links import LinkWriter, item_link
from digest.render.marks import country_flag, item_flags, unique_hashtags

# English month names, not strftime("%B"): that follows the process locale.
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_FULL, _EMPTY = "\N{BLACK CIRCLE}", "\N{WHITE CIRCLE}"
_RATING_MAX = 5


def packaged_templates() -> Path:
    """The folder of templates shipped with the package."""
    return Path(str(importlib.resources.files("digest") / "templates"))


class OverridableLoader(jinja2.BaseLoader):
    """The first of `loaders` that has a template wins, as with ChoiceLoader; but a cached
    template also goes stale when an earlier loader gains the file.

    ChoiceLoader re-checks only the file it loaded from, so a file newly added to the override
    folder would stay hidden behind the cached packaged one until a restart.
    """

    def __init__(self, loaders: list[jinja2.BaseLoader]) -> None:
        self.loaders = loaders

    def list_templates(self) -> list[str]:
        return sorted({name for loader in self.loaders for name in loader.list_templates()})

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        for index, loader in enumerate(self.loaders):
            try:
                source, filename, uptodate = loader.get_source(environment, template)
            except jinja2.TemplateNotFound:
                continue

            def fresh(
                uptodate: Callable[[], bool] | None = uptodate,
                earlier: list[jinja2.BaseLoader] = self.loaders[:index],
            ) -> bool:
                if uptodate is not None and not uptodate():
                    return False
                return not any(_serves(loader, environment, template) for loader in earlier)

            return source, filename, fresh
        raise jinja2.TemplateNotFound(template)


def _serves(loader: jinja2.BaseLoader, environment: jinja2.Environment, template: str) -> bool:
    try:
        loader.get_source(environment, template)
    except jinja2.TemplateNotFound:
        return False
    return True


def template_environment(override_dir: Path | None = None) -> jinja2.Environment:
    """The environment: override folder first (when given), packaged templates behind it."""
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        loaders.append(jinja2.FileSystemLoader(override_dir))
    loaders.append(jinja2.FileSystemLoader(packaged_templates()))
    env = jinja2.Environment(
        loader=OverridableLoader(loaders),
        # By file name: MJML is HTML once compiled, so it is escaped like HTML; text is not.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("mjml.j2", "html.j2", "html"),
            disabled_extensions=("txt.j2",),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        auto_reload=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dots=dots,
        flags=flags,
        country_flag=country_flag_or_empty,
        hashtags=entry_hashtags,
        longdate=long_date,
        date_range=date_range,
        http_url=http_url,
        by_basis=by_basis,
        company_names=company_names,
        item_link=item_link,
        link=channel_link,
        followed_line=followed_line,
        weekly_intro=weekly_intro,
    )
    env.tests["http_url"] = is_http_url
    return env


def dots(rating: int, out_of: int = _RATING_MAX) -> str:
    """A rating as filled and empty circles ("●●●●○"); clamped, so bad data cannot widen it."""
    filled = max(0, min(out_of, rating))
    return _FULL * filled + _EMPTY * (out_of - filled)


def flags(item: NewsItem) -> str:
    return item_flags(item)


def country_flag_or_empty(code: str) -> str:
    return country_flag(code) or ""


def entry_hashtags(entry: Entry) -> str:
    """The entry's companies' tags, then the item's own, as "#MistralAI #AIInfrastructure"."""
    candidates = [*(company.hashtag for company in entry.companies), *entry.item.hashtags]
    return " ".join(f"#{tag}" for tag in unique_hashtags(candidates))


def company_names(entry: Entry) -> str:
    return ", ".join(company.name for company in entry.companies)


def followed_line(entry: Entry) -> str:
    """Why an entry is in this subscriber's weekly: "Because you follow NVIDIA and AMD"."""
    names = list(entry.followed)
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"Because you follow {listed}"


def weekly_intro(digest: Digest) -> str:
    """The weekly's opening line, for its number of items: the week's top (or the top in the
    subscriber's topics) and those about the companies they follow."""
    entries = digest.entries
    followed = sum(1 for entry in entries if entry.followed)
    top = len(entries) - followed
    if not entries:
        return "No news this week."
    if top == 1:
        line = "The most significant item of the week"
    elif top:
        line = f"The {top} most significant items of the week"
    else:
        line = "This week's item" if followed == 1 else f"This week's {followed} items"
    if followed:
        line += f", and {followed} more" if top else ""
        line += " about the companies you follow"
    if len(entries) == 1:
        return f"{line}, with its AMW Read."
    return f"{line}, grouped by topic, each with its AMW Read."


def long_date(value: date | datetime) -> str:
    """A date in words, "29 November 2026", whatever the locale."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def date_range(start: datetime, end: datetime, zone: tzinfo | None = None) -> str:
    """A window [start, end) in words: "23–29 November 2026", "30 November – 6 December 2026".

    The end is exclusive, so the last day shown is the one just before it. With `zone`, both
    ends are first taken to that zone (the site's), so the days are the reader's days.
    """
    if zone is not None:
        start, end = start.astimezone(zone), end.astimezone(zone)
    first = start.date()
    last = max(first, (end - timedelta(microseconds=1)).date())
    if first == last:
        return long_date(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}\N{EN DASH}{long_date(last)}"
    if first.year == last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} \N{EN DASH} {long_date(last)}"
    return f"{long_date(first)} \N{EN DASH} {long_date(last)}"


def is_http_url(value: object) -> bool:
    """Whether a URL is http(s) with a host: anything else (javascript:, data:) is never linked."""
    if not isinstance(value, str) or not value:
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def http_url(value: object, fallback: str = "#") -> str:
    """The URL when it is http(s), else a harmless fallback: untrusted links stay inert."""
    return value.strip() if is_http_url(value) and isinstance(value, str) else fallback


@jinja2.pass_context
def channel_link(context: jinja2.runtime.Context, target: str, name: str) -> str:
    """`target` as the render's `links` (a LinkWriter) write it, tagged or tracked; as it is
    where the render has none. `name` says what the link is: "item:ID", "connection:ID"…"""
    links = context.get("links")
    return links.url(target, name) if isinstance(links, LinkWriter) else target


def by_basis(connections: Iterable[Connection]) -> list[tuple[str, list[Connection]]]:
    """Connections grouped by what relates them, keeping their order (Jinja's groupby sorts)."""
    groups: dict[str, list[Connection]] = {}
    for connection in connections:
        groups.setdefault(connection.basis, []).append(connection)
    return list(groups.items())
