"""Tracking link tokens: genuine ones read back, changed ones never do."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from digests_for_tests import SITE
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.engagement.tokens import Link, LinkSigner, TrackedLinks
from digest.settings import TrackingSettings

SECRET = SITE.secret_key.reveal()
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LINK = Link(
    kind="click",
    digest_key="weekly:2026-W48",
    channel="email",
    name="item:mistral-compute",
    target="https://news.example.org/items/mistral-compute?utm_source=digest",
    issued=int(NOW.timestamp()),
)


def payload_of(token: str) -> str:
    encoded = token.rpartition(".")[0]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def with_payload(token: str, payload: str) -> str:
    """The token with its payload replaced and its signature kept: what a forger can do."""
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{encoded}.{token.rpartition('.')[2]}"


def test_a_genuine_token_reads_back_as_the_link_it_was_made_for() -> None:
    signer = LinkSigner(SECRET)
    assert signer.read_link(signer.link_token(LINK)) == LINK


def test_a_token_with_another_target_is_refused() -> None:
    signer = LinkSigner(SECRET)
    token = signer.link_token(LINK)
    elsewhere = payload_of(token).replace(LINK.target, "https://evil.example/phish")
    assert signer.read_link(with_payload(token, elsewhere)) is None


def test_a_token_moved_to_another_digest_or_link_is_refused() -> None:
    signer = LinkSigner(SECRET)
    token = signer.link_token(LINK)
    for old, new in (("weekly:2026-W48", "weekly:2026-W47"), ("item:", "profile:")):
        assert signer.read_link(with_payload(token, payload_of(token).replace(old, new))) is None


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0), character=st.sampled_from("AQgw-_0."))
def test_a_token_changed_anywhere_is_refused(position: int, character: str) -> None:
    signer = LinkSigner(SECRET)
    token = signer.link_token(LINK)
    index = position % len(token)
    changed = token[:index] + character + token[index + 1 :]
    if changed != token:
        assert signer.read_link(changed) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    assert LinkSigner(SECRET).read_link(LinkSigner("another-secret-value").link_token(LINK)) is None


def test_garbage_is_refused_without_an_error() -> None:
    signer = LinkSigner(SECRET)
    for garbage in ("", ".", "abc", "a.b.c", "%%%.***", "x" * 5000, "é.é"):
        assert signer.read_link(garbage) is None
        assert signer.read_reader(garbage, LINK.digest_key) is None


def test_an_expiry_is_signed_in_and_a_link_expires_after_it() -> None:
    tracking = TrackingSettings(weekly=True, link_days=30)
    links = TrackedLinks.for_digest(SITE, tracking, "weekly:2026-W48", now=NOW)
    url = links.url("https://news.example.org/a", "item:a")
    signer = LinkSigner(SECRET)
    link = signer.read_link(url.rpartition("/r/")[2])
    assert link is not None and link.expires is not None
    assert not link.expired(NOW + timedelta(days=29))
    assert link.expired(NOW + timedelta(days=31))
    token = url.rpartition("/r/")[2]
    lasting = payload_of(token).rpartition("\n")[0] + "\n"  # the expiry taken out
    assert signer.read_link(with_payload(token, lasting)) is None


def test_a_link_without_an_expiry_never_expires() -> None:
    assert not LINK.expired(NOW + timedelta(days=3650))


def test_a_reader_token_is_bound_to_its_digest_and_subscriber() -> None:
    signer = LinkSigner(SECRET)
    token = signer.reader_token("weekly:2026-W48", "s0001", 1_800_000_000)
    reader = signer.read_reader(token, "weekly:2026-W48")
    assert reader is not None
    assert (reader.subscriber_id, reader.issued) == ("s0001", 1_800_000_000)
    assert signer.read_reader(token, "weekly:2026-W47") is None
    other = base64.urlsafe_b64encode(b"s0002").decode().rstrip("=")
    assert signer.read_reader(other + token[token.index(".") :], "weekly:2026-W48") is None


def test_tracked_urls_point_at_the_site_and_carry_the_reader_part() -> None:
    tracking = TrackingSettings(weekly=True)
    links = TrackedLinks.for_digest(SITE, tracking, "weekly:2026-W48", now=NOW, reader="R")
    url = links.url("https://example.com/story", "item:story")
    assert url.startswith("https://news.example.org/r/") and url.endswith("/R")
    assert links.pixel().startswith("https://news.example.org/o/")
    assert links.pixel().endswith("/R.gif")


def test_a_non_ascii_target_is_signed_percent_encoded() -> None:
    links = TrackedLinks.for_digest(SITE, TrackingSettings(), "weekly:2026-W48", now=NOW)
    url = links.url("https://example.com/société?q=ü", "item:x")
    link = LinkSigner(SECRET).read_link(url.rpartition("/r/")[2])
    assert link is not None
    assert link.target == "https://example.com/soci%C3%A9t%C3%A9?q=%C3%BC"


@pytest.mark.parametrize("target", ["#", "javascript:alert(1)", "mailto:a@b.c", "https://a b"])
def test_what_cannot_be_tracked_is_left_as_it_is(target: str) -> None:
    links = TrackedLinks.for_digest(SITE, TrackingSettings(), "weekly:2026-W48", now=NOW)
    assert links.url(target, "item:x") == target


def test_the_same_link_is_signed_once() -> None:
    links = TrackedLinks.for_digest(SITE, TrackingSettings(), "weekly:2026-W48", now=NOW)
    first = links.url("https://example.com/a", "item:a")
    assert links.url("https://example.com/a", "item:a") == first
    assert replace(links, reader="x").url("https://example.com/a", "item:a") == first + "/x"
