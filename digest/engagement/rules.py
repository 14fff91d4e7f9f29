"""Bots are not readers: the rules that tell a person's click or open from a machine's.

Security gateways (Microsoft Safe Links, Mimecast, Proofpoint, Barracuda) follow every link of a
message as it arrives, link previewers (Slack, Mastodon servers, Bluesky's card fetcher) fetch a
posted link from each server that sees it, and Apple Mail Privacy Protection fetches every image
of a message through Apple's proxies soon after delivery, whether anyone reads it or not. Counted
as readers, they would make every digest look read. The rules, first match wins:

1. A HEAD request (click or open): scanner, "head request". Browsers GET a link; link checkers
   and security gateways often HEAD it.
2. An open from Apple's proxy (the bare user agent `Mozilla/5.0`, or an address in Apple's
   17.0.0.0/8): prefetch, "apple proxy". Mail Privacy Protection fetched it: an estimated open,
   never a read.
3. No user agent, the bare `Mozilla/5.0`, or a known scanner, previewer, fediverse card fetcher
   or HTTP library (click or open): scanner, "scanner agent".
4. Sooner than `scanner_seconds` after the email went out (click or open): scanner, "too soon".
   People take longer than a gateway scanning the message as it arrives.
5. `burst_links` different links of one message within `burst_seconds` (clicks): scanner,
   "every link at once".
6. Anything else: reader.

The first four look at one request (`judge`, on the redirect's hot path, microseconds); the last
needs the requests around it (`bursts`, run on each batch before it is written). "One message" is
the subscriber's with `tracking.per_subscriber`, otherwise one client (address and browser) of
one digest. Apple's bare user agent on a click is a scanner: a person's browser says more.
Gmail's image proxy (`GoogleImageProxy`) fetches at the moment a reader opens: an open.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from digest.settings import TrackingSettings


class Verdict(StrEnum):
    READER = "reader"
    SCANNER = "scanner"
    PREFETCH = "prefetch"  # Apple Mail Privacy Protection: an "estimated" open, never a read


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str = ""  # which rule decided: "head request", "apple proxy", …; "" for a reader


READER = Judgement(Verdict.READER)
HEAD_REQUEST = Judgement(Verdict.SCANNER, "head request")
APPLE_PROXY = Judgement(Verdict.PREFETCH, "apple proxy")
SCANNER_AGENT = Judgement(Verdict.SCANNER, "scanner agent")
TOO_SOON = Judgement(Verdict.SCANNER, "too soon")
EVERY_LINK = Judgement(Verdict.SCANNER, "every link at once")

# What Apple's Mail Privacy Protection proxies send, as the ESPs that studied them report.
APPLE_PROXY_AGENT = "Mozilla/5.0"
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)

# Security scanners, link previewers, fediverse servers fetching cards, HTTP libraries, headless
# browsers: looked for in the lower-cased user agent (plain substrings: a regular expression of
# alternatives costs a hundred times more on the redirect's path).
_SCANNER_WORDS = (
    "crawler",
    "spider",
    "scanner",
    "preview",  # BingPreview, SkypeUriPreview, link previews
    "facebookexternalhit",
    "meta-externalagent",
    "whatsapp",
    "embedly",
    "iframely",
    "mastodon/",  # a Mastodon server fetching a posted link's card
    "pleroma",
    "akkoma",
    "misskey",
    "cardyb",  # Bluesky's link card fetcher
    "http.rb",
    "barracuda",
    "mimecast",
    "proofpoint",
    "safelinks",
    "microsoft office",  # Office apps resolving a link before the browser opens it
    "ms-office",
    "headlesschrome",
    "phantomjs",
    "python-",
    "python/",
    "aiohttp",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww",
    "httpclient",
    "axios/",
    "node-fetch",
)
# Googlebot, Twitterbot, Slackbot, Discordbot, …: "bot" ending a word, but not Cubot phones.
_BOT = re.compile(r"bot(?:\b|/)")


@dataclass(frozen=True, slots=True)
class Thresholds:
    scanner_seconds: float = 10
    burst_seconds: float = 5.0
    burst_links: int = 3

    @classmethod
    def from_settings(cls, tracking: TrackingSettings) -> Thresholds:
        return cls(tracking.scanner_seconds, tracking.burst_seconds, tracking.burst_links)


def is_scanner_agent(user_agent: str) -> bool:
    agent = user_agent.strip()
    if not agent or agent == APPLE_PROXY_AGENT:
        return True
    lowered = agent.lower()
    if any(word in lowered for word in _SCANNER_WORDS):
        return True
    return any(
        lowered[found.start() - 2 : found.start()] != "cu" for found in _BOT.finditer(lowered)
    )


def is_apple_proxy(user_agent: str, address: str) -> bool:
    if user_agent.strip() == APPLE_PROXY_AGENT:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in APPLE_NETWORKS)


def judge(
    *,
    kind: str,
    method: str,
    user_agent: str,
    address: str,
    seconds_after_delivery: float | None,
    thresholds: Thresholds,
) -> Judgement:
    """One request on its own: every rule but the burst. `seconds_after_delivery` is None where
    the delivery moment is not known (a social post's link)."""
    if method.upper() == "HEAD":
        return HEAD_REQUEST
    if kind == "open" and is_apple_proxy(user_agent, address):
        return APPLE_PROXY
    if is_scanner_agent(user_agent):
        return SCANNER_AGENT
    if seconds_after_delivery is not None and seconds_after_delivery < thresholds.scanner_seconds:
        return TOO_SOON
    return READER


@dataclass(frozen=True, slots=True)
class Click:
    """What the burst rule needs of a click: whose message, which link, when (Unix seconds)."""

    message: str
    link: str
    at: float


def bursts(clicks: Sequence[Click], thresholds: Thresholds) -> set[int]:
    """The indexes of the clicks that are part of a burst: `burst_links` different links of one
    message within `burst_seconds` of each other (every click of such a window counts)."""
    by_message: dict[str, list[int]] = {}
    for index, click in enumerate(clicks):
        by_message.setdefault(click.message, []).append(index)
    found: set[int] = set()
    for indexes in by_message.values():
        if len(indexes) < thresholds.burst_links:
            continue
        indexes.sort(key=lambda index: clicks[index].at)
        window: Counter[str] = Counter()
        start = 0
        for end, index in enumerate(indexes):
            window[clicks[index].link] += 1
            while clicks[index].at - clicks[indexes[start]].at > thresholds.burst_seconds:
                first = clicks[indexes[start]].link
                window[first] -= 1
                if not window[first]:
                    del window[first]
                start += 1
            if len(window) >= thresholds.burst_links:
                found.update(indexes[start : end + 1])
    return found
