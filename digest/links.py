"""Signed links in emails: confirmation, preferences, one-click unsubscribe, private links to a
subscriber's data, and the archive.

A token is bound to one subscriber and one purpose with an HMAC of the site's secret; checking it
compares in constant time, so a token made for one purpose never opens another. Subscribers who
sign up on the web get random ids, so the links of a forgotten subscriber never open anyone else.

Lasting links (preferences, unsubscribe) are in every email and work as long as the subscriber
exists: a forwarded newsletter hands them on, so they only change what is sent. Timed links also
sign the moment they were issued and are refused after their lifetime (`LIFETIMES`), judged by
the app's clock: confirming an address, and the links mailed on request to download or delete
one's data. A confirmation link made before links were dated is genuine but carries no date, so
the seven days cannot be counted for it: it reads as expired, and the page says to sign up again,
which mails a dated one. Honouring it until a cutover would need a dated setting that outlives
its use, for a case the sign-up form already serves with one click.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import quote

from digest.settings import SiteSettings

Lasting = Literal["preferences", "unsubscribe"]
Timed = Literal["confirm", "data", "delete"]
Purpose = Lasting | Timed

LIFETIMES: dict[Timed, timedelta] = {
    "confirm": timedelta(days=7),
    "data": timedelta(minutes=30),
    "delete": timedelta(minutes=30),
}
# The page each timed link opens.
_TIMED_PATHS: dict[Timed, str] = {"confirm": "confirm", "data": "my-data", "delete": "delete-me"}


@dataclass(frozen=True, slots=True)
class Expired:
    """A genuine timed token past its lifetime (or made before tokens were dated)."""

    subscriber_id: str


def _signature(secret: str, message: str) -> str:
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode().rstrip("=")


def _encoded(subscriber_id: str) -> str:
    return base64.urlsafe_b64encode(subscriber_id.encode()).decode().rstrip("=")


def _decoded(encoded: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _genuine(expected: str, signature: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a URL can carry.
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def make_token(secret: str, subscriber_id: str, purpose: Lasting) -> str:
    signature = _signature(secret, f"{purpose}\0{subscriber_id}")
    return f"{_encoded(subscriber_id)}.{signature}"


def read_token(secret: str, token: str, purpose: Purpose) -> str | None:
    """The subscriber id the undated token was made for, or None if it is not genuine for
    `purpose` (only `read_timed_token` passes a timed purpose, for the undated old links)."""
    encoded, _, signature = token.partition(".")
    subscriber_id = _decoded(encoded)
    if subscriber_id is None:
        return None
    genuine = _genuine(_signature(secret, f"{purpose}\0{subscriber_id}"), signature)
    return subscriber_id if genuine else None


def make_timed_token(secret: str, subscriber_id: str, purpose: Timed, issued: datetime) -> str:
    stamp = str(int(issued.timestamp()))
    signature = _signature(secret, f"{purpose}\0{subscriber_id}\0{stamp}")
    return f"{_encoded(subscriber_id)}.{stamp}.{signature}"


def read_timed_token(
    secret: str, token: str, purpose: Timed, now: datetime
) -> str | Expired | None:
    """The subscriber id while the token is within its lifetime at `now`; `Expired` when it is
    genuine but too old or undated; None when it is not genuine for `purpose`."""
    parts = token.split(".")
    if len(parts) == 2:  # a link mailed before links were dated
        subscriber_id = read_token(secret, token, purpose)
        return Expired(subscriber_id) if subscriber_id is not None else None
    if len(parts) != 3 or not parts[1].isascii() or not parts[1].isdigit():
        return None
    encoded, stamp, signature = parts
    subscriber_id = _decoded(encoded)
    if subscriber_id is None:
        return None
    if not _genuine(_signature(secret, f"{purpose}\0{subscriber_id}\0{stamp}"), signature):
        return None
    issued = datetime.fromtimestamp(int(stamp), UTC)
    return subscriber_id if now - issued <= LIFETIMES[purpose] else Expired(subscriber_id)


def _base(site: SiteSettings) -> str:
    return site.base_url.rstrip("/")


def site_url(site: SiteSettings, path: str) -> str:
    """One of the app's paths as an absolute URL, for use on other sites' pages."""
    return _base(site) + path


def preferences_url(site: SiteSettings, subscriber_id: str) -> str:
    token = make_token(site.secret_key.reveal(), subscriber_id, "preferences")
    return f"{_base(site)}/preferences/{token}"


def unsubscribe_url(site: SiteSettings, subscriber_id: str) -> str:
    token = make_token(site.secret_key.reveal(), subscriber_id, "unsubscribe")
    return f"{_base(site)}/unsubscribe/{token}"


def timed_url(site: SiteSettings, subscriber_id: str, purpose: Timed, issued: datetime) -> str:
    """The link that confirms (`confirm`), downloads (`data`) or deletes (`delete`), issued at
    `issued` and valid for its purpose's lifetime."""
    token = make_timed_token(site.secret_key.reveal(), subscriber_id, purpose, issued)
    return f"{_base(site)}/{_TIMED_PATHS[purpose]}/{token}"


def archive_url(site: SiteSettings, digest_key: str) -> str:
    return f"{_base(site)}/archive/{quote(digest_key, safe=':')}"


# The word that starts the subject of an unsubscribe mail, before the token.
MAILTO_SUBJECT = "unsubscribe"


def unsubscribe_mailto(site: SiteSettings, subscriber_id: str) -> str | None:
    """The List-Unsubscribe mailto for one subscriber: their signed unsubscribe token in the
    subject, which the inbound-mail webhooks read. None when nothing reads that address."""
    address = site.read_unsubscribe_mailto
    if address is None:
        return None
    token = make_token(site.secret_key.reveal(), subscriber_id, "unsubscribe")
    return f"mailto:{address}?subject={MAILTO_SUBJECT}%20{token}"
