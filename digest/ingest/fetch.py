"""Getting a source's bytes and its format: files by extension, URLs by Content-Type or sniffing.

A URL that answers with an error status, or that is not a valid http(s) URL, is a Problem (bad
input, exit 2). A URL whose server cannot be reached at all (connection refused, DNS, timeout)
is `Unreachable`: `read_sources` raises ServiceError for it (exit 3), as retrying may help.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

import httpx

from digest.errors import Problem
from digest.ingest.checks import url_problem

Format = Literal["yaml", "json", "jsonl", "feed"]
EXTENSIONS: dict[str, Format] = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".jsonl": "jsonl",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}
JSONL_TYPES = {
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
    "application/x-ndjson",
    "application/ndjson",
}
ACCEPT = (
    "application/json, application/x-ndjson, application/yaml, application/rss+xml, "
    "application/atom+xml, application/xml;q=0.9, */*;q=0.5"
)
TIMEOUT = httpx.Timeout(30.0)


@dataclass(frozen=True, slots=True)
class Loaded:
    where: str
    body: bytes
    format: Format


@dataclass(frozen=True, slots=True)
class Unreachable:
    where: str
    reason: str


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def format_of_name(name: str) -> Format | None:
    return EXTENSIONS.get(PurePosixPath(name).suffix.lower())


def format_of_media_type(content_type: str) -> Format | None:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in JSONL_TYPES:
        return "jsonl"
    if media_type in ("application/json", "text/json") or media_type.endswith("+json"):
        return "json"
    if "yaml" in media_type:
        return "yaml"
    if media_type in ("application/xml", "text/xml") or media_type.endswith("+xml"):
        return "feed"
    return None


def sniff(body: bytes) -> Format:
    """Guess from the first bytes: markup is a feed, braces are JSON (or JSON Lines), else YAML."""
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "feed"
    if text.startswith((b"{", b"[")):
        try:
            whole = json.loads(text)
        except ValueError:
            first = text.split(b"\n", 1)[0]
            try:
                return "jsonl" if isinstance(json.loads(first), dict) else "json"
            except ValueError:
                return "json"  # let the JSON parser say what is wrong
        # One line of JSON Lines is also a JSON document: its "kind" tells them apart.
        return "jsonl" if isinstance(whole, dict) and "kind" in whole else "json"
    return "yaml"


def read_file(source: str) -> Loaded | Problem:
    fmt = format_of_name(source)
    if fmt is None:
        names = ", ".join(EXTENSIONS)
        return Problem(source, "", "", f"unknown file type; name it with one of {names}")
    try:
        return Loaded(source, Path(source).read_bytes(), fmt)
    except OSError as error:
        return Problem(source, "", "", f"cannot read: {error.strerror or error}")


def fetch(source: str, client: httpx.Client) -> Loaded | Problem | Unreachable:
    problem = url_problem(source)
    if problem:
        return Problem(source, "", "", problem)
    try:
        response = client.get(source, headers={"Accept": ACCEPT}, follow_redirects=True)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        return Problem(source, "", "", f"not a valid http(s) URL: {error}")
    except httpx.TransportError as error:
        return Unreachable(source, str(error) or type(error).__name__)
    except httpx.HTTPError as error:
        return Problem(source, "", "", f"cannot fetch: {error}")
    if not response.is_success:
        reason = f"{response.status_code} {response.reason_phrase}".strip()
        return Problem(source, "", "", f"the server answered {reason}; check the URL")
    fmt = (
        format_of_media_type(response.headers.get("content-type", ""))
        or format_of_name(urlsplit(str(response.url)).path)
        or sniff(response.content)
    )
    return Loaded(source, response.content, fmt)


def new_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, headers={"User-Agent": "digest (ingest)"})
