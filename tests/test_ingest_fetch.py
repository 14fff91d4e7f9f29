"""read_sources on URLs, through httpx.MockTransport: formats, errors, and the client's lifetime."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from digest.errors import InputError, ServiceError
from digest.ingest import fetch, read_sources

DATA = Path(__file__).parent / "data" / "ingest"
COMPANY = {"slug": "a", "name": "A", "sector": "S", "country": "FR", "hashtag": "A"}
JSON_BODY = json.dumps({"companies": [COMPANY]}).encode()
JSONL_BODY = (json.dumps({"kind": "company", **COMPANY}) + "\n").encode()
YAML_BODY = b"companies:\n  - {slug: a, name: A, sector: S, country: FR, hashtag: A}\n"


def client_for(
    routes: dict[str, tuple[int, str, bytes]], seen: list[httpx.Request] | None = None
) -> httpx.Client:
    """A client answering each URL with (status, content type, body)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        status, content_type, body = routes[str(request.url)]
        headers = {"content-type": content_type} if content_type else {}
        return httpx.Response(status, headers=headers, content=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def failing_client(error: Callable[[httpx.Request], Exception]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error(request)

    return httpx.Client(transport=httpx.MockTransport(handle))


def slugs(url: str, content_type: str, body: bytes) -> list[str]:
    client = client_for({url: (200, content_type, body)})
    return [company.slug for company in read_sources([url], client=client).companies]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json; charset=utf-8", JSON_BODY),
        ("application/vnd.digest+json", JSON_BODY),
        ("application/x-ndjson", JSONL_BODY),
        ("application/yaml", YAML_BODY),
        ("text/x-yaml", YAML_BODY),
    ],
)
def test_format_from_content_type(content_type: str, body: bytes) -> None:
    assert slugs("https://example.com/export", content_type, body) == ["a"]


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", ""])
def test_a_feed_url(content_type: str) -> None:
    body = (DATA / "news.rss").read_bytes()
    client = client_for({"https://example.com/feed": (200, content_type, body)})
    batch = read_sources(
        ["https://example.com/feed"], known_companies={"mistral-ai"}, client=client
    )
    assert len(batch.items) == 2


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("https://example.com/export.json", JSON_BODY),  # by the URL's extension
        ("https://example.com/export.yaml", YAML_BODY),
        ("https://example.com/export", JSON_BODY),  # sniffed
        ("https://example.com/export", JSONL_BODY),
        ("https://example.com/export", YAML_BODY),
    ],
)
def test_format_falls_back_to_extension_then_sniffing(url: str, body: bytes) -> None:
    assert slugs(url, "text/plain", body) == ["a"]


def test_problems_in_a_fetched_document_name_the_url() -> None:
    body = json.dumps({"companies": [{**COMPANY, "country": "XX"}]}).encode()
    client = client_for({"https://example.com/c.json": (200, "application/json", body)})
    with pytest.raises(InputError) as caught:
        read_sources(["https://example.com/c.json"], client=client)
    assert str(caught.value) == (
        'https://example.com/c.json:companies[0]: country: "XX" is not an ISO 3166-1 alpha-2 code'
    )


def test_error_status_is_a_problem() -> None:
    client = client_for(
        {
            "https://example.com/gone.json": (404, "text/html", b"<h1>no</h1>"),
            "https://example.com/down.json": (503, "", b""),
        }
    )
    with pytest.raises(InputError) as caught:
        read_sources(
            ["https://example.com/gone.json", "https://example.com/down.json"], client=client
        )
    assert [str(p) for p in caught.value.problems] == [
        "https://example.com/gone.json: the server answered 404 Not Found; check the URL",
        "https://example.com/down.json: the server answered 503 Service Unavailable; check the URL",
    ]


def test_redirects_are_followed() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "https://example.com/new.json"})
        return httpx.Response(200, content=JSON_BODY)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    batch = read_sources(["https://example.com/old"], client=client)
    assert [company.slug for company in batch.companies] == ["a"]
    assert [r.url.path for r in seen] == ["/old", "/new.json"]


def test_unreachable_server_is_a_service_error_naming_the_url() -> None:
    client = failing_client(lambda request: httpx.ConnectError("refused", request=request))
    with pytest.raises(ServiceError) as caught:
        read_sources(["https://example.com/a.json"], client=client)
    assert str(caught.value) == "could not fetch https://example.com/a.json: refused"
    assert caught.value.exit_code == 3


def test_timeout_is_a_service_error() -> None:
    client = failing_client(lambda request: httpx.ReadTimeout("timed out", request=request))
    with pytest.raises(ServiceError):
        read_sources(["https://example.com/a.json"], client=client)


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(InputError) as caught:
        read_sources(["ftp://example.com/a.json"], client=client_for({}))
    assert str(caught.value) == (
        "ftp://example.com/a.json: only http:// and https:// URLs can be fetched"
    )


def test_an_invalid_url_is_a_problem() -> None:
    with pytest.raises(InputError) as caught:
        read_sources(["https://exa mple.com/a.json"], client=client_for({}))
    assert str(caught.value) == (
        'https://exa mple.com/a.json: "https://exa mple.com/a.json" contains spaces or control '
        "characters; encode them (%20)"
    )


def test_the_callers_client_stays_open_and_sends_accept() -> None:
    seen: list[httpx.Request] = []
    client = client_for({"https://example.com/a.json": (200, "application/json", JSON_BODY)}, seen)
    read_sources(["https://example.com/a.json"], client=client)
    assert not client.is_closed
    assert "application/json" in seen[0].headers["accept"]


def test_without_a_client_one_is_made_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[httpx.Client] = []

    def new_client() -> httpx.Client:
        routes = {
            "https://example.com/a.json": (200, "", JSON_BODY),
            "https://example.com/b.yaml": (200, "", YAML_BODY.replace(b"slug: a", b"slug: b")),
        }
        made.append(client_for(routes))
        return made[-1]

    monkeypatch.setattr("digest.ingest.readers.new_client", new_client)
    batch = read_sources(["https://example.com/a.json", "https://example.com/b.yaml"])
    assert [company.slug for company in batch.companies] == ["a", "b"]
    assert len(made) == 1 and made[0].is_closed


def test_no_client_is_made_for_files_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("digest.ingest.readers.new_client", lambda: pytest.fail("made a client"))
    read_sources([str(DATA / "companies.yaml")])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"  <?xml version='1.0'?><rss/>", "feed"),
        (b'{"items": []}', "json"),
        (b'[{"a": 1}]', "json"),
        (b'{"kind": "item"}\n{"kind": "read"}\n', "jsonl"),
        (b'{"kind": "item"}\n', "jsonl"),
        (b'{"broken": ', "json"),
        (b"\xef\xbb\xbfitems: []\n", "yaml"),
    ],
)
def test_sniff(body: bytes, expected: str) -> None:
    assert fetch.sniff(body) == expected


def test_a_fetched_body_is_never_taken_for_a_file_name(tmp_path: Path) -> None:
    # feedparser.parse(b"/some/path") would read that file; a server must not steer us to one.
    local = tmp_path / "local.rss"
    local.write_bytes((DATA / "news.rss").read_bytes())
    url = "https://example.com/feed"
    client = client_for({url: (200, "application/rss+xml", str(local).encode())})
    with pytest.raises(InputError) as caught:
        read_sources([url], known_companies={"mistral-ai"}, client=client)
    assert str(caught.value).startswith(f"{url}:")
    assert "entries" not in str(caught.value)
