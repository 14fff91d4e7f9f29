"""The social adapters, through one table of cases on `httpx.MockTransport`.

Each adapter declares the exact requests its platform documents for one post and the answer that
accepts it; every adapter then goes through the same scenarios (accepted, 401, 422, 429 with its
reset header, 5xx, no answer), run by one runner. No credential may appear in a result or a log
line, even when the service echoes it back in an error.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import PIL.Image
import pytest

from digest.delivery.social import social_adapter_types
from digest.delivery.social.base import UNKNOWN_OUTCOME, Attempt, Resolver, SocialAdapter
from digest.errors import ConfigError
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.cards import CardLookup
from digest.render.social import SocialPost
from digest.settings import Settings, parse_settings
from digest.store import Store
from digest.store.channel_tokens import StoredTokens

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
KEY = "weekly:2026-W48/social/main/item:a"
URL = "https://example.com/news/mistral-sweden"
TEXT = f"🌍🇸🇪 Mistral goes north\n\nMistral invests in Sweden.\n\n{URL}\n\n#MistralAI #AI"
TOKEN = "tok-SECRET-3f9a"
PASSWORD = "app-pass-SECRET-77"
ACCESS_JWT = "jwt-access-SECRET"
REFRESH_JWT = "jwt-refresh-SECRET"
HOOK_SECRET = "hook-SECRET-1c2d"
SECRETS = (TOKEN, PASSWORD, ACCESS_JWT, REFRESH_JWT, HOOK_SECRET)


def a_post(platform: str, text: str = TEXT) -> SocialPost:
    return SocialPost(
        digest_key="weekly:2026-W48",
        key="item:a",
        platform=platform,
        text=text,
        url=URL,
        hashtags=("MistralAI", "AI"),
        length=80,
        limit=300,
        title="Mistral goes north",
        description="Mistral invests in Sweden.",
    )


@dataclass(frozen=True)
class Expected:
    """One request as the platform documents it: method, URL, headers that must be there, and
    a check of the body."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Callable[[httpx.Request], None] = lambda request: None


def json_body(expected: dict[str, Any]) -> Callable[[httpx.Request], None]:
    def check(request: httpx.Request) -> None:
        assert json.loads(request.content) == expected

    return check


@dataclass(frozen=True)
class Case:
    type: str
    options: dict[str, Any]
    setup: list[tuple[Expected, httpx.Response]]  # requests before the post's own (a session)
    requests: list[Expected]  # the post's own calls
    answers: list[httpx.Response]  # what accepts them
    provider_id: str
    reset_header: dict[str, str]  # the platform's own way of saying when to come back
    # A post with a share card: the calls that upload it first (none where the platform fetches
    # the picture by URL), and a check of the post's first own request, which names it.
    uploads: list[tuple[Expected, httpx.Response]] = field(default_factory=list)
    pictured: Callable[[httpx.Request], None] = lambda request: None


def bluesky_record_check(request: httpx.Request) -> None:
    body = json.loads(request.content)
    assert body["repo"] == "did:plc:abc"
    assert body["collection"] == "app.bsky.feed.post"
    record = body["record"]
    assert record["$type"] == "app.bsky.feed.post"
    assert record["text"] == TEXT
    assert record["createdAt"] == "2026-11-30T07:00:00Z"
    assert record["langs"] == ["en"]
    raw = TEXT.encode("utf-8")
    link, tag, _ = record["facets"]
    start, end = link["index"]["byteStart"], link["index"]["byteEnd"]
    assert raw[start:end].decode() == URL  # UTF-8 byte offsets, past 8-byte flags
    assert link["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": URL}]
    assert raw[tag["index"]["byteStart"] : tag["index"]["byteEnd"]] == b"#MistralAI"
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "MistralAI"}]
    assert record["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": URL,
            "title": "Mistral goes north",
            "description": "Mistral invests in Sweden.",
        },
    }


def linkedin_check(request: httpx.Request) -> None:
    body = json.loads(request.content)
    assert body["author"] == "urn:li:organization:42"
    assert body["commentary"] == TEXT  # nothing here needs escaping: tags and URL stay as is
    assert body["visibility"] == "PUBLIC"
    assert body["lifecycleState"] == "PUBLISHED"
    assert body["distribution"]["feedDistribution"] == "MAIN_FEED"
    assert body["content"]["article"]["source"] == URL


def threads_create_check(request: httpx.Request) -> None:
    assert parse_qs(request.content.decode()) == {"media_type": ["TEXT"], "text": [TEXT]}


# A post with its share card ---------------------------------------------------------------------

CARD_PATH = "cards/weekly:2026-W48/1-1200x675.png"
CARD_URL = f"https://news.example.org/{CARD_PATH}"
CARD_ALT = "Mistral goes north. 🌍🇸🇪 Mistral AI. Novelty 4/5, significance 5/5"
CARD_PNG = b"\x89PNG\r\n\x1a\n" + b"card" * 64  # the adapters pass the bytes on unread
BLOB = {
    "$type": "blob",
    "ref": {"$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},
    "mimeType": "image/png",
    "size": len(CARD_PNG),
}
LINKEDIN_UPLOAD = "https://www.linkedin.com/dms-uploads/C4E10AQFoyyAjHPMQuQ/uploaded-image/0"


def pictured_post(platform: str) -> SocialPost:
    return replace(a_post(platform), image=CARD_PATH)


def look_up_card(path: str) -> tuple[bytes, str] | None:
    return (CARD_PNG, CARD_ALT) if path == CARD_PATH else None


def raw_card(request: httpx.Request) -> None:
    assert request.content == CARD_PNG


def multipart_parts(request: httpx.Request) -> dict[str, tuple[dict[str, str], bytes]]:
    """The parts of a multipart/form-data body by name: (their headers, their bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.content
    )
    assert message.get_content_type() == "multipart/form-data"
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = (dict(part.items()), part.get_payload(decode=True))
    return parts


def mastodon_media(request: httpx.Request) -> None:
    parts = multipart_parts(request)
    assert set(parts) == {"file", "description"}
    headers, content = parts["file"]
    assert content == CARD_PNG and headers["Content-Type"] == "image/png"
    assert 'filename="1-1200x675.png"' in headers["Content-Disposition"]
    assert parts["description"][1].decode() == CARD_ALT


def x_media(request: httpx.Request) -> None:
    parts = multipart_parts(request)
    assert set(parts) == {"media", "media_category", "media_type"}
    assert parts["media"][1] == CARD_PNG
    assert parts["media_category"][1] == b"tweet_image"
    assert parts["media_type"][1] == b"image/png"


def bluesky_thumb_check(request: httpx.Request) -> None:
    embed = json.loads(request.content)["record"]["embed"]
    assert embed == {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": URL,
            "title": "Mistral goes north",
            "description": "Mistral invests in Sweden.",
            "thumb": BLOB,
        },
    }


def linkedin_thumbnail_check(request: httpx.Request) -> None:
    article = json.loads(request.content)["content"]["article"]
    assert article == {
        "source": URL,
        "title": "Mistral goes north",
        "description": "Mistral invests in Sweden.",
        "thumbnail": "urn:li:image:C4E10AQFoyyAjHPMQuQ",
    }


def threads_image_check(request: httpx.Request) -> None:
    assert parse_qs(request.content.decode()) == {
        "media_type": ["IMAGE"],
        "image_url": [CARD_URL],
        "text": [TEXT],
    }


BEARER = {"Authorization": f"Bearer {TOKEN}"}
HOOK = f"https://hooks.example.com/services/T0/B0/{HOOK_SECRET}"
DISCORD = f"https://discord.example.com/api/webhooks/1/{HOOK_SECRET}"

CASES = [
    Case(
        "mastodon",
        {"base_url": "https://mastodon.example", "access_token": TOKEN},
        [],
        [
            Expected(
                "POST",
                "https://mastodon.example/api/v1/statuses",
                {**BEARER, "Idempotency-Key": hashlib.sha256(KEY.encode()).hexdigest()},
                json_body({"status": TEXT, "visibility": "public", "language": "en"}),
            )
        ],
        [httpx.Response(200, json={"id": "1095"})],
        "1095",
        {"X-RateLimit-Reset": "2026-11-30T07:05:00.000Z"},
        uploads=[
            (
                Expected("POST", "https://mastodon.example/api/v2/media", BEARER, mastodon_media),
                httpx.Response(200, json={"id": "22348641", "type": "image", "url": CARD_URL}),
            )
        ],
        pictured=json_body(
            {"status": TEXT, "visibility": "public", "language": "en", "media_ids": ["22348641"]}
        ),
    ),
    Case(
        "bluesky",
        {
            "identifier": "news.example.org",
            "app_password": PASSWORD,
            "service": "https://pds.example",
        },
        [
            (
                Expected(
                    "POST",
                    "https://pds.example/xrpc/com.atproto.server.createSession",
                    {},
                    json_body({"identifier": "news.example.org", "password": PASSWORD}),
                ),
                httpx.Response(
                    200,
                    json={"did": "did:plc:abc", "accessJwt": ACCESS_JWT, "refreshJwt": REFRESH_JWT},
                ),
            )
        ],
        [
            Expected(
                "POST",
                "https://pds.example/xrpc/com.atproto.repo.createRecord",
                {"Authorization": f"Bearer {ACCESS_JWT}"},
                bluesky_record_check,
            )
        ],
        [
            httpx.Response(
                200, json={"uri": "at://did:plc:abc/app.bsky.feed.post/3k", "cid": "bafy"}
            )
        ],
        "at://did:plc:abc/app.bsky.feed.post/3k bafy",
        {"RateLimit-Reset": str(int(NOW.timestamp()) + 300)},
        uploads=[
            (
                Expected(
                    "POST",
                    "https://pds.example/xrpc/com.atproto.repo.uploadBlob",
                    {"Authorization": f"Bearer {ACCESS_JWT}", "Content-Type": "image/png"},
                    raw_card,
                ),
                httpx.Response(200, json={"blob": BLOB}),
            )
        ],
        pictured=bluesky_thumb_check,
    ),
    Case(
        "x",
        {"access_token": TOKEN},
        [],
        [Expected("POST", "https://api.x.com/2/tweets", BEARER, json_body({"text": TEXT}))],
        [httpx.Response(201, json={"data": {"id": "1861", "text": TEXT}})],
        "1861",
        {"x-rate-limit-reset": str(int(NOW.timestamp()) + 300)},
        uploads=[
            (
                Expected("POST", "https://api.x.com/2/media/upload", BEARER, x_media),
                httpx.Response(
                    200,
                    json={
                        "data": {
                            "id": "1880028106020515840",
                            "media_key": "3_1880028106020515840",
                            "size": len(CARD_PNG),
                            "expires_after_secs": 86400,
                        }
                    },
                ),
            ),
            (
                Expected(
                    "POST",
                    "https://api.x.com/2/media/metadata",
                    BEARER,
                    json_body(
                        {
                            "id": "1880028106020515840",
                            "metadata": {"alt_text": {"text": CARD_ALT}},
                        }
                    ),
                ),
                httpx.Response(200, json={"data": {"id": "1880028106020515840"}}),
            ),
        ],
        pictured=json_body({"text": TEXT, "media": {"media_ids": ["1880028106020515840"]}}),
    ),
    Case(
        "linkedin",
        {"access_token": TOKEN, "author": "urn:li:organization:42", "version": "202511"},
        [],
        [
            Expected(
                "POST",
                "https://api.linkedin.com/rest/posts",
                {**BEARER, "LinkedIn-Version": "202511", "X-Restli-Protocol-Version": "2.0.0"},
                linkedin_check,
            )
        ],
        [httpx.Response(201, headers={"x-restli-id": "urn:li:share:7001"})],
        "urn:li:share:7001",
        {"Retry-After": "300"},
        uploads=[
            (
                Expected(
                    "POST",
                    "https://api.linkedin.com/rest/images?action=initializeUpload",
                    {**BEARER, "LinkedIn-Version": "202511", "X-Restli-Protocol-Version": "2.0.0"},
                    json_body({"initializeUploadRequest": {"owner": "urn:li:organization:42"}}),
                ),
                httpx.Response(
                    200,
                    json={
                        "value": {
                            "uploadUrlExpiresAt": 1764486000000,
                            "uploadUrl": LINKEDIN_UPLOAD,
                            "image": "urn:li:image:C4E10AQFoyyAjHPMQuQ",
                        }
                    },
                ),
            ),
            (Expected("PUT", LINKEDIN_UPLOAD, BEARER, raw_card), httpx.Response(201)),
        ],
        pictured=linkedin_thumbnail_check,
    ),
    Case(
        "threads",
        {"user_id": "1789", "access_token": TOKEN},
        [],
        [
            Expected(
                "POST", "https://graph.threads.net/v1.0/1789/threads", BEARER, threads_create_check
            ),
            Expected(
                "POST",
                "https://graph.threads.net/v1.0/1789/threads_publish?creation_id=c-55",
                BEARER,
            ),
        ],
        [httpx.Response(200, json={"id": "c-55"}), httpx.Response(200, json={"id": "t-66"})],
        "t-66",
        {"Retry-After": "300"},
        pictured=threads_image_check,
    ),
    Case(
        "slack",
        {"webhook_url": HOOK},
        [],
        [Expected("POST", HOOK, {}, json_body({"text": TEXT, "unfurl_links": True}))],
        [httpx.Response(200, text="ok")],
        f"slack:{KEY}",
        {"Retry-After": "300"},
        pictured=json_body(
            {
                "text": TEXT,
                "unfurl_links": True,
                "attachments": [
                    {
                        "fallback": CARD_ALT,
                        "blocks": [{"type": "image", "image_url": CARD_URL, "alt_text": CARD_ALT}],
                    }
                ],
            }
        ),
    ),
    Case(
        "discord",
        {"webhook_url": DISCORD},
        [],
        [
            Expected(
                "POST",
                f"{DISCORD}?wait=true",
                {},
                json_body({"content": TEXT, "allowed_mentions": {"parse": []}}),
            )
        ],
        [httpx.Response(200, json={"id": "9001"})],
        "9001",
        {},  # Discord says it in the body: {"retry_after": 300.0, "global": false}
        pictured=json_body(
            {
                "content": TEXT,
                "allowed_mentions": {"parse": []},
                "embeds": [{"image": {"url": CARD_URL}}],
            }
        ),
    ),
]


def settings_with(
    case_type: str, options: dict[str, Any], root: Path, platform: str | None = None
) -> Settings:
    raw = {
        "version": 1,
        "site": {
            "name": "AMW",
            "base_url": "https://news.example.org",
            "from_address": "AMW <digest@news.example.org>",
            "list_id": "weekly.news.example.org",
            "secret_key": "a-long-enough-secret-key",
        },
        "social": [{"name": "main", "type": case_type, "platform": platform, "options": options}],
    }
    return parse_settings(raw, where="settings.yaml", root=root)


class Recorder:
    """A MockTransport handler: answers in order, records every request."""

    def __init__(self, answers: list[httpx.Response | Exception]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def public_host(host: str) -> list[str]:
    return ["93.184.215.14"]  # a public address, for hosts the tests name


def make_adapter(
    case: Case,
    answers: list[Any],
    root: Path,
    cards: CardLookup | None = None,
    resolve: Resolver = public_host,
) -> tuple[SocialAdapter, Recorder]:
    recorder = Recorder([answer for _, answer in case.setup] + answers)
    settings = settings_with(case.type, case.options, root)
    cls = social_adapter_types()[case.type]
    options = cls.parse_options(case.options, "social[0].options", settings)
    client = httpx.Client(transport=httpx.MockTransport(recorder))
    adapter = cls(
        options,
        settings,
        channel="main",
        path="social[0]",
        client=client,
        clock=lambda: NOW,
        cards=cards,
        resolve=resolve,
    )
    return adapter, recorder


def own_secrets(case: Case) -> list[str]:
    own = [secret for secret in SECRETS if secret in json.dumps(case.options)]
    return own + ([ACCESS_JWT, REFRESH_JWT] if case.type == "bluesky" else [])


def echo_secrets(
    case: Case, status: int, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    """An error answer that quotes the channel's credentials back, as careless services do."""
    body = {"error": "no", "echo": own_secrets(case), **extra}
    return httpx.Response(status, headers=headers, json=body)


@dataclass(frozen=True)
class Scenario:
    name: str
    answer: Callable[[Case], httpx.Response | Exception]
    status: DeliveryStatus
    transient: bool
    retry_after: float | None = None
    unknown_outcome: bool = False  # the answer leaves it open whether the post went up


SCENARIOS = [
    Scenario("401", lambda case: echo_secrets(case, 401), DeliveryStatus.FAILED, transient=False),
    Scenario("422", lambda case: echo_secrets(case, 422), DeliveryStatus.REJECTED, transient=False),
    Scenario(
        "429",
        lambda case: echo_secrets(
            case, 429, case.reset_header, retry_after=300.0, **{"global": False}
        ),
        DeliveryStatus.FAILED,
        transient=True,
        retry_after=300.0,
    ),
    Scenario(
        "503",
        lambda case: echo_secrets(case, 503),
        DeliveryStatus.FAILED,
        True,
        unknown_outcome=True,
    ),
    Scenario(
        "no answer",
        lambda case: httpx.ReadTimeout(f"timed out {own_secrets(case)} {case.options}"),
        DeliveryStatus.FAILED,
        transient=True,
        unknown_outcome=True,
    ),
    Scenario(
        "never connected",
        lambda case: httpx.ConnectError(f"refused {case.options}"),
        DeliveryStatus.FAILED,
        transient=True,
    ),
]


def assert_no_secret(result: DeliveryResult, caplog: pytest.LogCaptureFixture) -> None:
    shown = f"{result.response} {result.provider_id} {caplog.text}"
    for secret in SECRETS:
        assert secret not in shown


def check_request(request: httpx.Request, expected: Expected) -> None:
    assert request.method == expected.method
    assert str(request.url) == expected.url
    for name, value in expected.headers.items():
        assert request.headers.get(name) == value, name
    expected.body(request)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.type)
def test_a_post_makes_the_documented_requests(
    case: Case, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter, recorder = make_adapter(case, list(case.answers), tmp_path)
    result = adapter.post(a_post(case.type), KEY)
    assert result.status is DeliveryStatus.SENT, result.response
    assert result.provider_id == case.provider_id
    expected = [request for request, _ in case.setup] + case.requests
    assert len(recorder.requests) == len(expected)
    for request, wanted in zip(recorder.requests, expected, strict=True):
        check_request(request, wanted)
    assert_no_secret(result, caplog)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.type)
def test_failures_in_one_vocabulary_without_credentials(
    case: Case, scenario: Scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter, recorder = make_adapter(case, [scenario.answer(case)], tmp_path)
    result = adapter.post(a_post(case.type), KEY)
    assert (result.status, result.transient) == (scenario.status, scenario.transient)
    assert result.retry_after == scenario.retry_after
    # Only where a repeated call could post twice is the unknown outcome marked for the next try.
    marked = (result.response or "").startswith(UNKNOWN_OUTCOME)
    assert marked == (scenario.unknown_outcome and not adapter.idempotent)
    assert len(recorder.requests) == len(case.setup) + 1  # never retried inside the adapter
    assert_no_secret(result, caplog)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.type)
def test_a_post_with_a_card_sends_it_the_platforms_way(
    case: Case, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answers = [answer for _, answer in case.uploads] + list(case.answers)
    adapter, recorder = make_adapter(case, answers, tmp_path, cards=look_up_card)
    result = adapter.post(pictured_post(case.type), KEY)
    assert result.status is DeliveryStatus.SENT, result.response
    assert result.provider_id == case.provider_id
    first, *rest = case.requests
    expected = [
        *(request for request, _ in case.setup),
        *(request for request, _ in case.uploads),
        replace(first, body=case.pictured),
        *rest,
    ]
    assert len(recorder.requests) == len(expected)
    for request, wanted in zip(recorder.requests, expected, strict=True):
        check_request(request, wanted)
    assert_no_secret(result, caplog)


def test_the_items_own_image_is_what_platforms_that_fetch_pictures_get(tmp_path: Path) -> None:
    own = "https://cdn.example.com/mistral-sweden.jpg"
    threads = next(case for case in CASES if case.type == "threads")
    adapter, recorder = make_adapter(threads, list(threads.answers), tmp_path, cards=look_up_card)
    post = replace(pictured_post("threads"), image_url=own)
    assert adapter.post(post, KEY).status is DeliveryStatus.SENT
    assert parse_qs(recorder.requests[0].content.decode())["image_url"] == [own]


UPLOADING = [case for case in CASES if case.uploads]
OWN_IMAGE = "https://cdn.example.com/mistral-sweden.jpg"


def jpeg(width: int = 800, height: int = 450) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (width, height), (30, 60, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("case", UPLOADING, ids=lambda case: case.type)
def test_an_items_own_picture_is_what_platforms_that_take_uploads_get(
    case: Case, tmp_path: Path
) -> None:
    picture = jpeg()
    image = httpx.Response(200, content=picture, headers={"Content-Type": "image/jpeg"})
    answers = [image, *(answer for _, answer in case.uploads), *case.answers]
    adapter, recorder = make_adapter(case, answers, tmp_path, cards=look_up_card)
    post = replace(pictured_post(case.type), image_url=OWN_IMAGE)
    result = adapter.post(post, KEY)
    assert result.status is DeliveryStatus.SENT, result.response
    fetched = recorder.requests[len(case.setup)]
    # From the address that was checked, the host name in Host and in TLS's SNI.
    assert (fetched.method, str(fetched.url)) == ("GET", "https://93.184.215.14/mistral-sweden.jpg")
    assert fetched.headers["Host"] == "cdn.example.com"
    assert fetched.extensions["sni_hostname"] == "cdn.example.com"
    uploads = recorder.requests[len(case.setup) + 1 : len(case.setup) + 1 + len(case.uploads)]
    # The picture's bytes go up (raw or in a multipart form), never the card's.
    assert any(picture in upload.content for upload in uploads)
    assert not any(CARD_PNG in request.content for request in recorder.requests)


def private_host(host: str) -> list[str]:
    return ["93.184.215.14", "10.0.0.7"]  # one address inside: the whole host is refused


NOT_FETCHED: dict[str, tuple[str, Resolver, list[httpx.Response]]] = {
    "a private address": (OWN_IMAGE, private_host, []),
    "loopback": ("https://127.0.0.1/admin.png", lambda host: [host], []),
    "IPv6 link-local": ("https://cdn.example.com/a.png", lambda host: ["fe80::1%eth0"], []),
    "plain http": ("http://cdn.example.com/a.jpg", public_host, []),
    "a redirect": (OWN_IMAGE, public_host,
                   [httpx.Response(302, headers={"Location": "https://10.0.0.7/x.png"})]),
    "a web page": (OWN_IMAGE, public_host,
                   [httpx.Response(200, text="<html>", headers={"Content-Type": "text/html"})]),
    "not what it says": (OWN_IMAGE, public_host,
                         [httpx.Response(200, content=b"GIF89a" + b"x" * 20,
                                         headers={"Content-Type": "image/jpeg"})]),
    "gone": (OWN_IMAGE, public_host, [httpx.Response(404)]),
    "too large": (OWN_IMAGE, public_host,
                  [httpx.Response(200, content=b"\xff" * 5_000_001,
                                  headers={"Content-Type": "image/jpeg"})]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(NOT_FETCHED))
def test_an_items_picture_that_cannot_be_fetched_safely_leaves_the_card(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, resolve, image_answers = NOT_FETCHED[name]
    case = next(case for case in CASES if case.type == "x")
    answers = [*image_answers, *(answer for _, answer in case.uploads), *case.answers]
    adapter, recorder = make_adapter(case, answers, tmp_path, cards=look_up_card, resolve=resolve)
    result = adapter.post(replace(pictured_post("x"), image_url=url), KEY)
    assert result.status is DeliveryStatus.SENT, result.response
    # At most the one request to the picture's own address, never a second (no redirect).
    fetched = [request for request in recorder.requests if request.url.host != "api.x.com"]
    assert [request.headers["Host"] for request in fetched] == ["cdn.example.com"] * len(
        image_answers
    )
    assert any(CARD_PNG in request.content for request in recorder.requests)
    assert "posting its card" in caplog.text


def test_bluesky_takes_a_picture_of_at_most_its_blob_limit(tmp_path: Path) -> None:
    case = next(case for case in CASES if case.type == "bluesky")
    big = httpx.Response(200, content=b"\xff" * 1_000_001, headers={"Content-Type": "image/jpeg"})
    answers = [big, *(answer for _, answer in case.uploads), *case.answers]
    adapter, recorder = make_adapter(case, answers, tmp_path, cards=look_up_card)
    result = adapter.post(replace(pictured_post("bluesky"), image_url=OWN_IMAGE), KEY)
    assert result.status is DeliveryStatus.SENT, result.response
    assert any(request.content == CARD_PNG for request in recorder.requests)


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(503, json={"error": "busy"}), httpx.ReadTimeout("timed out")],
    ids=["503", "no answer"],
)
@pytest.mark.parametrize("case", UPLOADING, ids=lambda case: case.type)
def test_an_upload_that_fails_posts_nothing_and_is_simply_tried_again(
    case: Case, answer: httpx.Response | Exception, tmp_path: Path
) -> None:
    adapter, recorder = make_adapter(case, [answer], tmp_path, cards=look_up_card)
    result = adapter.post(pictured_post(case.type), KEY)
    assert (result.status, result.transient) == (DeliveryStatus.FAILED, True)
    # An upload makes no post: nothing to look for on the platform, nothing to hold.
    assert not (result.response or "").startswith(UNKNOWN_OUTCOME)
    assert len(recorder.requests) == len(case.setup) + 1


def test_a_card_missing_from_the_store_leaves_the_post_without_a_picture(tmp_path: Path) -> None:
    case = next(case for case in CASES if case.type == "x")
    adapter, recorder = make_adapter(case, list(case.answers), tmp_path, cards=lambda path: None)
    assert adapter.post(pictured_post("x"), KEY).status is DeliveryStatus.SENT
    assert [request.url.path for request in recorder.requests] == ["/2/tweets"]


def test_mastodon_waits_for_media_the_server_still_processes(tmp_path: Path) -> None:
    case = next(case for case in CASES if case.type == "mastodon")
    accepted = httpx.Response(202, json={"id": "22348641", "type": "image", "url": None})
    processing = httpx.Response(206, json={"id": "22348641", "url": None})
    adapter, recorder = make_adapter(case, [accepted, processing], tmp_path, cards=look_up_card)
    result = adapter.post(pictured_post("mastodon"), KEY)
    assert (result.status, result.transient) == (DeliveryStatus.FAILED, True)
    assert "still processing" in (result.response or "")
    assert recorder.requests[1].method == "GET"
    assert recorder.requests[1].url.path == "/api/v1/media/22348641"
    ready = httpx.Response(200, json={"id": "22348641", "url": CARD_URL})
    answers = [accepted, ready, *case.answers]
    adapter, recorder = make_adapter(case, answers, tmp_path, cards=look_up_card)
    assert adapter.post(pictured_post("mastodon"), KEY).status is DeliveryStatus.SENT
    assert json.loads(recorder.requests[-1].content)["media_ids"] == ["22348641"]


def test_the_file_adapter_is_in_the_table_of_adapters(tmp_path: Path) -> None:
    # Not an HTTP service: its case is that it writes the line and answers sent, idempotently.
    settings = settings_with("file", {"directory": "out"}, tmp_path, "x")
    cls = social_adapter_types()["file"]
    adapter = cls(
        cls.parse_options({"directory": "out"}, "o", settings), settings, channel="main", path="p"
    )
    assert adapter.idempotent
    assert adapter.post(a_post("x"), KEY).status is DeliveryStatus.SENT
    assert {*social_adapter_types()} == {case.type for case in CASES} | {"file"}


# Platform specifics ------------------------------------------------------------------------------

BLUESKY = next(case for case in CASES if case.type == "bluesky")
CREATED = httpx.Response(200, json={"uri": "at://did:plc:abc/app.bsky.feed.post/3k", "cid": "bafy"})


def test_bluesky_creates_one_session_and_reuses_it(tmp_path: Path) -> None:
    adapter, recorder = make_adapter(BLUESKY, [CREATED, CREATED, CREATED], tmp_path)
    for _ in range(3):
        assert adapter.post(a_post("bluesky"), KEY).status is DeliveryStatus.SENT
    paths = [request.url.path for request in recorder.requests]
    assert paths.count("/xrpc/com.atproto.server.createSession") == 1
    assert paths.count("/xrpc/com.atproto.repo.createRecord") == 3


def test_bluesky_refreshes_an_expired_session_instead_of_creating_one(tmp_path: Path) -> None:
    expired = httpx.Response(400, json={"error": "ExpiredToken", "message": "Token has expired"})
    refreshed = httpx.Response(
        200, json={"did": "did:plc:abc", "accessJwt": "jwt-new", "refreshJwt": "jwt-new-refresh"}
    )
    adapter, recorder = make_adapter(BLUESKY, [CREATED, expired, refreshed, CREATED], tmp_path)
    assert adapter.post(a_post("bluesky"), KEY).status is DeliveryStatus.SENT
    assert adapter.post(a_post("bluesky"), KEY).status is DeliveryStatus.SENT
    paths = [request.url.path.rsplit("/", 1)[1] for request in recorder.requests]
    assert paths == [
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
        "com.atproto.repo.createRecord",
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]
    assert recorder.requests[3].headers["Authorization"] == f"Bearer {REFRESH_JWT}"
    assert recorder.requests[4].headers["Authorization"] == "Bearer jwt-new"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.type in ("bluesky", "threads")], ids=lambda c: c.type
)
def test_after_an_unknown_outcome_a_platform_that_can_is_searched_first(
    case: Case, tmp_path: Path
) -> None:
    if case.type == "bluesky":
        listing = {"records": [{"uri": "at://p/1", "cid": "c1", "value": {"text": TEXT}}]}
        found_id = "at://p/1 c1"
    else:
        listing = {"data": [{"id": "t-1", "text": "another post"}, {"id": "t-2", "text": TEXT}]}
        found_id = "t-2"
    adapter, recorder = make_adapter(case, [httpx.Response(200, json=listing)], tmp_path)
    result = adapter.post(a_post(case.type), KEY, attempt=Attempt(2, after_unknown=True))
    assert (result.status, result.provider_id) == (DeliveryStatus.SENT, found_id)
    assert [request.method for request in recorder.requests[len(case.setup) :]] == ["GET"]


def test_after_an_unknown_outcome_a_post_not_found_is_posted(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.type == "threads")
    empty = httpx.Response(200, json={"data": [{"id": "t-1", "text": "another post"}]})
    adapter, recorder = make_adapter(case, [empty, *case.answers], tmp_path)
    result = adapter.post(a_post("threads"), KEY, attempt=Attempt(2, after_unknown=True))
    assert (result.status, result.provider_id) == (DeliveryStatus.SENT, "t-66")
    assert [request.method for request in recorder.requests] == ["GET", "POST", "POST"]


def test_mastodon_reads_the_servers_limits_once(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.type == "mastodon")
    instance = httpx.Response(
        200,
        json={
            "domain": "mastodon.example",
            "configuration": {
                "statuses": {"max_characters": 1000, "characters_reserved_per_url": 30}
            },
        },
    )
    adapter, recorder = make_adapter(case, [instance], tmp_path)
    rules = adapter.rules()
    assert adapter.rules() is rules
    assert (rules.max_length, rules.url_length) == (1000, 30)
    assert rules.length(URL) == 30
    assert [str(request.url) for request in recorder.requests] == [
        "https://mastodon.example/api/v2/instance"
    ]


def test_mastodon_keeps_its_defaults_when_the_server_will_not_say(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.type == "mastodon")
    adapter, _ = make_adapter(case, [httpx.Response(503)], tmp_path)
    assert (adapter.rules().max_length, adapter.rules().url_length) == (500, 23)


def test_linkedin_escapes_little_text_outside_tags_and_urls(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.type == "linkedin")
    adapter, recorder = make_adapter(case, list(case.answers), tmp_path)
    text = f"OpenAI (with *Nebius*) [lease] @ #1 <big> ~ {URL}?a_b=(1)\n\n#MistralAI"
    adapter.post(a_post("linkedin", text), KEY)
    commentary = json.loads(recorder.requests[0].content)["commentary"]
    assert commentary == (
        r"OpenAI \(with \*Nebius\*\) \[lease\] \@ \#1 \<big\> \~ "
        f"{URL}?a_b=(1)\n\n#MistralAI"
    )


def test_discord_and_slack_bodies_defuse_mentions_and_markup(tmp_path: Path) -> None:
    slack = next(c for c in CASES if c.type == "slack")
    adapter, recorder = make_adapter(slack, list(slack.answers), tmp_path)
    adapter.post(a_post("slack", "R&D <b> @everyone"), KEY)
    assert json.loads(recorder.requests[0].content)["text"] == "R&amp;D &lt;b&gt; @everyone"
    discord = next(c for c in CASES if c.type == "discord")
    adapter, recorder = make_adapter(discord, list(discord.answers), tmp_path)
    adapter.post(a_post("discord", "@everyone look"), KEY)
    assert json.loads(recorder.requests[0].content)["allowed_mentions"] == {"parse": []}


def test_replies_name_the_post_they_answer(tmp_path: Path) -> None:
    from digest.delivery.social.base import Reply

    sent: dict[str, str] = {}
    for case in CASES:
        adapter, recorder = make_adapter(case, list(case.answers), tmp_path)
        if case.type == "bluesky":
            reply = Reply(root="at://r/1 cid-r", parent="at://p/2 cid-p")
        else:
            reply = Reply(root="root-1", parent="parent-2")
        adapter.post(a_post(case.type), KEY, reply=reply)
        request = recorder.requests[len(case.setup)]
        sent[case.type] = request.content.decode()
    assert json.loads(sent["x"])["reply"] == {"in_reply_to_tweet_id": "parent-2"}
    assert json.loads(sent["mastodon"])["in_reply_to_id"] == "parent-2"
    assert json.loads(sent["bluesky"])["record"]["reply"] == {
        "root": {"uri": "at://r/1", "cid": "cid-r"},
        "parent": {"uri": "at://p/2", "cid": "cid-p"},
    }
    assert parse_qs(sent["threads"])["reply_to_id"] == ["parent-2"]


def test_x_says_a_duplicate_is_a_refusal_of_the_post_not_of_the_token(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.type == "x")
    duplicate = httpx.Response(
        403, json={"detail": "You are not allowed to create a Tweet with duplicate content."}
    )
    adapter, _ = make_adapter(case, [duplicate], tmp_path)
    result = adapter.post(a_post("x"), KEY)
    assert result.status is DeliveryStatus.REJECTED and "duplicate" in (result.response or "")


# X: renewing an expired access token (OAuth 2 refresh tokens) --------------------------------

X_REFRESH = "rt-SECRET-first"
X_CLIENT_SECRET = "cs-SECRET-app"
NEW_ACCESS, NEW_REFRESH = "at-SECRET-renewed", "rt-SECRET-renewed"
X_SECRETS = (TOKEN, X_REFRESH, X_CLIENT_SECRET, NEW_ACCESS, NEW_REFRESH)
X_RENEWING = {
    "access_token": TOKEN,
    "refresh_token": X_REFRESH,
    "client_id": "cid-digest",
    "client_secret": X_CLIENT_SECRET,
}
TOKEN_URL = "https://api.x.com/2/oauth2/token"
# X's answers, as its API reference shows them.
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
INVALID_REFRESH = {
    "error": "invalid_request",
    "error_description": "Value passed for the token was invalid.",
}


def renewed(access: str = NEW_ACCESS, refresh: str = NEW_REFRESH) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": access,
            "scope": "tweet.write users.read tweet.read offline.access",
            "refresh_token": refresh,
        },
    )


def x_adapter(
    store: Store, root: Path, answers: list[Any], options: dict[str, Any] | None = None
) -> tuple[SocialAdapter, Recorder]:
    options = options or X_RENEWING
    recorder = Recorder(answers)
    settings = settings_with("x", options, root)
    cls = social_adapter_types()["x"]
    adapter = cls(
        cls.parse_options(options, "social[0].options", settings),
        settings,
        channel="main",
        path="social[0]",
        client=httpx.Client(transport=httpx.MockTransport(recorder)),
        clock=lambda: NOW,
        tokens=StoredTokens(store.engine, lambda: NOW),
    )
    return adapter, recorder


def assert_no_x_secret(result: DeliveryResult, caplog: pytest.LogCaptureFixture) -> None:
    shown = f"{result.response} {result.provider_id} {caplog.text}"
    assert not [secret for secret in X_SECRETS if secret in shown]


def test_x_renews_an_expired_token_once_and_the_next_run_starts_from_the_new_pair(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        httpx.Response(401, json=UNAUTHORIZED),
        renewed(),
        httpx.Response(201, json={"data": {"id": "1862", "text": TEXT}}),
    ]
    adapter, recorder = x_adapter(store, tmp_path, answers)
    result = adapter.post(a_post("x"), KEY)
    assert (result.status, result.provider_id) == (DeliveryStatus.SENT, "1862")
    tweet, refresh, again = recorder.requests
    assert tweet.headers["Authorization"] == f"Bearer {TOKEN}"
    # The refresh request as X documents it: a form, Basic auth for a confidential client.
    assert (refresh.method, str(refresh.url)) == ("POST", TOKEN_URL)
    assert refresh.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(refresh.content.decode()) == {
        "refresh_token": [X_REFRESH],
        "grant_type": ["refresh_token"],
        "client_id": ["cid-digest"],
    }
    basic = base64.b64encode(f"cid-digest:{X_CLIENT_SECRET}".encode()).decode()
    assert refresh.headers["Authorization"] == f"Basic {basic}"
    assert again.headers["Authorization"] == f"Bearer {NEW_ACCESS}"
    assert_no_x_secret(result, caplog)

    # The next run (a new adapter on the same store) starts from the renewed token, and when
    # that one has expired too, renews with the renewed refresh token: the first is spent.
    answers = [
        httpx.Response(401, json=UNAUTHORIZED),
        renewed("at-SECRET-3", "rt-SECRET-3"),
        httpx.Response(201, json={"data": {"id": "1863"}}),
    ]
    later, recorder = x_adapter(store, tmp_path, answers)
    assert later.post(a_post("x"), KEY).status is DeliveryStatus.SENT
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {NEW_ACCESS}"
    assert parse_qs(recorder.requests[1].content.decode())["refresh_token"] == [NEW_REFRESH]

    # Authorised again, with a new refresh token in settings: the stored pair is stale.
    fresh = {**X_RENEWING, "access_token": "at-SECRET-fresh", "refresh_token": "rt-SECRET-fresh"}
    reauthorised, recorder = x_adapter(
        store, tmp_path, [httpx.Response(201, json={"data": {"id": "1864"}})], fresh
    )
    assert reauthorised.post(a_post("x"), KEY).status is DeliveryStatus.SENT
    assert recorder.requests[0].headers["Authorization"] == "Bearer at-SECRET-fresh"


def test_x_says_what_to_do_when_the_refresh_token_is_refused(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [httpx.Response(401, json=UNAUTHORIZED), httpx.Response(400, json=INVALID_REFRESH)]
    adapter, recorder = x_adapter(store, tmp_path, answers)
    result = adapter.post(a_post("x"), KEY)
    assert (result.status, result.transient) == (DeliveryStatus.FAILED, False)
    assert "refused to renew the access token (HTTP 400" in (result.response or "")
    assert "authorise the app again" in (result.response or "")
    assert "X_REFRESH_TOKEN" in (result.response or "")
    assert len(recorder.requests) == 2  # renewed once, never in a loop
    assert_no_x_secret(result, caplog)


def test_x_fails_after_a_second_401_with_a_renewed_token(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        httpx.Response(401, json=UNAUTHORIZED),
        renewed(),
        httpx.Response(401, json=UNAUTHORIZED),
    ]
    adapter, recorder = x_adapter(store, tmp_path, answers)
    result = adapter.post(a_post("x"), KEY)
    assert (result.status, result.transient) == (DeliveryStatus.FAILED, False)
    assert "HTTP 401 with a renewed token" in (result.response or "")
    assert "tweet.write" in (result.response or "")
    assert len(recorder.requests) == 3
    assert_no_x_secret(result, caplog)


def test_x_without_a_refresh_token_says_how_to_give_it_one(store: Store, tmp_path: Path) -> None:
    adapter, recorder = x_adapter(
        store, tmp_path, [httpx.Response(401, json=UNAUTHORIZED)], {"access_token": TOKEN}
    )
    result = adapter.post(a_post("x"), KEY)
    assert result.status is DeliveryStatus.FAILED and not result.transient
    assert "refresh_token" in (result.response or "") and "X_ACCESS_TOKEN" in (
        result.response or ""
    )
    assert len(recorder.requests) == 1


def test_x_renewal_that_gets_no_answer_is_tried_later_not_held(
    store: Store, tmp_path: Path
) -> None:
    answers = [httpx.Response(401, json=UNAUTHORIZED), httpx.ReadTimeout("no answer")]
    adapter, _ = x_adapter(store, tmp_path, answers)
    result = adapter.post(a_post("x"), KEY)
    assert (result.status, result.transient) == (DeliveryStatus.FAILED, True)
    assert not (result.response or "").startswith(UNKNOWN_OUTCOME)  # nothing was posted


def test_x_refresh_token_needs_the_apps_client_id(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"social\[0\].options.client_id: required with refresh_token"
    ):
        settings = settings_with("x", {"access_token": TOKEN, "refresh_token": X_REFRESH}, tmp_path)
        cls = social_adapter_types()["x"]
        cls.parse_options(settings.social[0].options, "social[0].options", settings)


def test_x_renews_an_expired_token_met_by_the_cards_upload(store: Store, tmp_path: Path) -> None:
    x = next(case for case in CASES if case.type == "x")
    answers = [
        httpx.Response(401, json=UNAUTHORIZED),
        renewed(),
        *(answer for _, answer in x.uploads),
        httpx.Response(201, json={"data": {"id": "1862", "text": TEXT}}),
    ]
    adapter, recorder = x_adapter(store, tmp_path, answers)
    adapter.cards = look_up_card
    result = adapter.post(pictured_post("x"), KEY)
    assert (result.status, result.provider_id) == (DeliveryStatus.SENT, "1862")
    paths = [request.url.path for request in recorder.requests]
    assert paths == [
        "/2/media/upload",
        "/2/oauth2/token",
        "/2/media/upload",
        "/2/media/metadata",
        "/2/tweets",
    ]
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    for request in recorder.requests[2:]:
        assert request.headers["Authorization"] == f"Bearer {NEW_ACCESS}"
