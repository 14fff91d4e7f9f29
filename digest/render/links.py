"""The links a digest writes, in emails and posts alike.

An item links to the site's own page for it (`page_url`) when it has one, else to its source:
readers come to the site. A channel whose links carry a campaign adds the utm_ parameters the
site's analytics read (utm_source = the platform or "email", utm_medium, utm_campaign = the
digest's key); a tracked channel then sends the link through the signed `/r/` redirect
(`engagement.TrackedLinks`), so clicks per channel and per post or item count the same way
everywhere. Only http(s) links are changed: anything else is left for render to make inert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digest.models import NewsItem
from digest.settings import CampaignSettings

if TYPE_CHECKING:  # render only calls it: the engagement package imports the store
    from digest.engagement import TrackedLinks

EMAIL_SOURCE = "email"


def item_link(item: NewsItem) -> str:
    """Where a headline leads: the site's page for the item, else its source."""
    return item.page_url or item.url


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class Campaign:
    """The utm_ parameters of one digest on one channel."""

    source: str  # "email", or the platform: "x", "bluesky", …
    medium: str
    name: str  # the digest's key

    @classmethod
    def for_email(cls, settings: CampaignSettings, digest_key: str) -> Campaign | None:
        return cls(EMAIL_SOURCE, settings.email_medium, digest_key) if settings.email else None

    def tag(self, url: str) -> str:
        """`url` with the parameters added; a parameter it already has is kept as it is (an
        editor's own utm_content, a source's own campaign)."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        present = {key for key, _ in query}
        added = [
            (key, value)
            for key, value in (
                ("utm_source", self.source),
                ("utm_medium", self.medium),
                ("utm_campaign", self.name),
            )
            if key not in present
        ]
        if not added:
            return url
        joined = "&".join(part for part in (parts.query, urlencode(added, safe=":")) if part)
        return urlunsplit(parts._replace(query=joined))


@dataclass(frozen=True, slots=True, eq=False)
class LinkWriter:
    """What one digest's links become on one channel: tagged, tracked, or as they are."""

    campaign: Campaign | None = None
    tracked: TrackedLinks | None = None

    def url(self, target: str, name: str) -> str:
        """The link to `target`; `name` says what it is in the digest ("item:ID", "post:KEY",
        …) for the click counts."""
        if not _is_http(target):
            return target
        if self.campaign is not None:
            target = self.campaign.tag(target)
        return self.tracked.url(target, name) if self.tracked is not None else target


AS_WRITTEN = LinkWriter()
