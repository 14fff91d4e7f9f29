"""The scanner rules, as a table: who is a reader, who is a machine, and which rule said so."""

from __future__ import annotations

import pytest

from digest.engagement.rules import Click, Thresholds, Verdict, bursts, judge

RULES = Thresholds(scanner_seconds=10, burst_seconds=5, burst_links=3)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
CUBOT = (
    "Mozilla/5.0 (Linux; Android 12; CUBOT X30 Build/SP1A) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
HOME = "203.0.113.7"
APPLE = "17.58.101.4"

# kind, method, user agent, address, seconds after delivery → verdict, reason
TABLE = [
    ("click", "GET", FIREFOX, HOME, 3600, Verdict.READER, ""),
    ("click", "GET", IPHONE, APPLE, 3600, Verdict.READER, ""),  # a person on Private Relay
    ("click", "GET", CUBOT, HOME, 3600, Verdict.READER, ""),
    ("click", "GET", FIREFOX, HOME, None, Verdict.READER, ""),  # a social post's link
    ("click", "GET", FIREFOX, HOME, 10, Verdict.READER, ""),
    ("click", "HEAD", FIREFOX, HOME, 3600, Verdict.SCANNER, "head request"),
    ("click", "head", FIREFOX, HOME, 3600, Verdict.SCANNER, "head request"),
    ("click", "GET", FIREFOX, HOME, 2, Verdict.SCANNER, "too soon"),
    ("click", "GET", FIREFOX, HOME, -30, Verdict.SCANNER, "too soon"),
    ("click", "GET", "", HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "Mozilla/5.0", HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "Mozilla/5.0 (compatible; bingbot/2.0)", HOME, 3600, Verdict.SCANNER,
     "scanner agent"),
    ("click", "GET", "Mozilla/5.0 (compatible; BingPreview/1.0b)", HOME, 3600, Verdict.SCANNER,
     "scanner agent"),
    ("click", "GET", "Barracuda Sentinel (EE)", HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "Mimecast-URL-Protect/1.0", HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928)",
     HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "http.rb/5.1.1 (Mastodon/4.3.2; +https://mastodon.social/)", HOME, None,
     Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
     HOME, None, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", HOME, None,
     Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "facebookexternalhit/1.1", HOME, None, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "python-requests/2.32.3", HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "curl/8.5.0", HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("click", "GET", "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0 Safari/537.36", HOME,
     3600, Verdict.SCANNER, "scanner agent"),
    ("open", "GET", "Mozilla/5.0", "198.51.100.9", 3600, Verdict.PREFETCH, "apple proxy"),
    ("open", "GET", "Mozilla/5.0", "198.51.100.9", 1, Verdict.PREFETCH, "apple proxy"),
    ("open", "GET", IPHONE, APPLE, 3600, Verdict.PREFETCH, "apple proxy"),
    ("open", "GET", IPHONE, "2001:db8::1", 3600, Verdict.READER, ""),
    ("open", "GET", GMAIL_PROXY, "66.102.8.1", 900, Verdict.READER, ""),
    ("open", "GET", FIREFOX, HOME, 3, Verdict.SCANNER, "too soon"),
    ("open", "HEAD", "Mozilla/5.0", APPLE, 3600, Verdict.SCANNER, "head request"),
    ("open", "GET", "curl/8.5.0", HOME, 3600, Verdict.SCANNER, "scanner agent"),
    ("open", "GET", FIREFOX, "not-an-address", 3600, Verdict.READER, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "method", "agent", "address", "seconds", "verdict", "reason"), TABLE
)
def test_each_request_is_judged_by_the_first_rule_that_matches(
    kind: str,
    method: str,
    agent: str,
    address: str,
    seconds: float | None,
    verdict: Verdict,
    reason: str,
) -> None:
    judgement = judge(
        kind=kind,
        method=method,
        user_agent=agent,
        address=address,
        seconds_after_delivery=seconds,
        thresholds=RULES,
    )
    assert (judgement.verdict, judgement.reason) == (verdict, reason)


# clicks (message, link, at) → the indexes counted as "every link at once"
BURSTS = [
    ([("m", "a", 0), ("m", "b", 1), ("m", "c", 2)], {0, 1, 2}),  # three links in two seconds
    ([("m", "a", 0), ("m", "b", 1), ("m", "c", 2), ("m", "d", 60)], {0, 1, 2}),
    ([("m", "a", 0), ("m", "b", 30), ("m", "c", 60)], set()),  # a reader going through
    ([("m", "a", 0), ("m", "a", 1), ("m", "a", 2), ("m", "a", 3)], set()),  # one link, again
    ([("m", "a", 0), ("n", "b", 1), ("o", "c", 2)], set()),  # three messages, one link each
    ([("m", "a", 0), ("m", "b", 5), ("m", "c", 10)], set()),  # never three within five seconds
    ([("m", "a", 0), ("m", "b", 2.5), ("m", "c", 5)], {0, 1, 2}),  # exactly five
    ([("m", "c", 2), ("m", "a", 0), ("n", "x", 1), ("m", "b", 1)], {0, 1, 3}),  # any order
]


@pytest.mark.parametrize(("clicks", "expected"), BURSTS)
def test_every_link_of_a_message_at_once_is_a_burst(
    clicks: list[tuple[str, str, float]], expected: set[int]
) -> None:
    assert bursts([Click(*click) for click in clicks], RULES) == expected
