"""Signed links in emails: confirmation, preferences, one-click unsubscribe, and the archive.

A token is bound to one subscriber and one purpose with an HMAC of the site's secret; checking it
compares in constant time, so a token made for one purpose never opens another. Subscribers who
sign up on the web get random ids, so the links of a forgotten subscriber never open anyone else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal
from urllib.parse import quote

from digest.settings import SiteSettings

Purpose = Literal["confirm", "preferences", "unsubscribe"]


def _signature(secret: str, subscriber_id: str, purpose: Purpose) -> str:
    mac = hmac.new(secret.encode(), f"{purpose}\0{subscriber_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode().rstrip("=")


def make_token(secret: str, subscriber_id: str, purpose: Purpose) -> str:
    encoded = base64.urlsafe_b64encode(subscriber_id.encode()).decode().rstrip("=")
    return f"{encoded}.{_signature(secret, subscriber_id, purpose)}"


def read_token(secret: str, token: str, purpose: Purpose) -> str | None:
    """The subscriber id the token was made for, or None if it is not genuine for `purpose`."""
    encoded, _, signature = token.partition(".")
    try:
        subscriber_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    expected = _signature(secret, subscriber_id, purpose)
    # As bytes: compare_digest refuses str with non-ASCII characters, which a URL can carry.
    genuine = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
    return subscriber_id if genuine else None


def _base(site: SiteSettings) -> str:
    return site.base_url.rstrip("/")


def site_url(site: SiteSettings, path: str) -> str:
    """One of the app's paths as an absolute URL, for use on other sites' pages."""
    return _base(site) + path


def preferences_url(site: SiteSettings, subscriber_id: str) -> str:
    token = make_token(site.secret_key.reveal(), subscriber_id, "preferences")
    return f"{_base(site)}/preferences/{token}"


def confirm_url(site: SiteSettings, subscriber_id: str) -> str:
    token = make_token(site.secret_key.reveal(), subscriber_id, "confirm")
    return f"{_base(site)}/confirm/{token}"


def unsubscribe_url(site: SiteSettings, subscriber_id: str) -> str:
    token = make_token(site.secret_key.reveal(), subscriber_id, "unsubscribe")
    return f"{_base(site)}/unsubscribe/{token}"


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
