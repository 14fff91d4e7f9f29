"""Getting a source's bytes and its format: files by extension, URLs by Content-Type or sniffing.

A URL that answers with an error status, or that is not a valid http(s) URL, is a Problem (bad
input, exit 2). A URL whose server cannot be reached at all (connection refused, DNS, timeout)
is `Unreachable`: `read_sources` raises ServiceError for it (exit 3), as retrying may help.
A fetched body goes to a temporary file as it arrives, so it is read as a stream like a file.
Given the validators of an earlier fetch (ETag, Last-Modified), a fetch asks only for a newer
version and a 304 answer is `NotModified`.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal
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


# Bytes of a fetched body kept in memory before it goes to disk.
_IN_MEMORY = 1024 * 1024
# How much of a body sniffing looks at.
_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said identifies the version it sent, to ask next time for a newer one."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Loaded:
    """A source ready to read: a file by its path, or a fetched body in a temporary file."""

    where: str
    format: Format
    path: Path | None = None
    body: IO[bytes] | None = None
    validators: Validators = Validators()

    @classmethod
    def of_bytes(cls, where: str, body: bytes, fmt: Format) -> Loaded:
        """Bytes already in memory (a request's body), read like a fetched body."""
        return cls(where, fmt, body=io.BytesIO(body))

    def open(self) -> IO[bytes]:
        """The bytes from their start; OSError for a file that cannot be read."""
        if self.path is not None:
            return self.path.open("rb")
        assert self.body is not None
        self.body.seek(0)
        return self.body

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


@dataclass(frozen=True, slots=True)
class Unreachable:
    where: str
    reason: str


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server has nothing newer than the version named by the validators sent."""

    where: str


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


def sniff(head: bytes) -> Format:
    """Guess from the first bytes: markup is a feed, braces are JSON (or JSON Lines), else YAML."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "feed"
    if text.startswith((b"{", b"[")):
        first, _, rest = text.partition(b"\n")
        try:
            line = json.loads(first)
        except ValueError:
            return "json"  # a document over several lines, or broken: the JSON parser will say
        if not isinstance(line, dict):
            return "json"
        # One line of JSON Lines is also a JSON document: its "kind" tells them apart.
        return "jsonl" if rest.strip() or "kind" in line else "json"
    return "yaml"


def read_file(source: str) -> Loaded | Problem:
    fmt = format_of_name(source)
    if fmt is None:
        names = ", ".join(EXTENSIONS)
        return Problem(source, "", "", f"unknown file type; name it with one of {names}")
    return Loaded(source, fmt, path=Path(source))


def fetch(
    source: str, client: httpx.Client, validators: Validators | None = None
) -> Loaded | Problem | Unreachable | NotModified:
    problem = url_problem(source)
    if problem:
        return Problem(source, "", "", problem)
    headers = {"Accept": ACCEPT}
    if validators is not None and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators is not None and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115
    try:
        outcome = _download(source, client, headers, body)
    except BaseException:
        body.close()
        raise
    if not isinstance(outcome, httpx.Response):
        body.close()
        return outcome
    body.seek(0)
    fmt = (
        format_of_media_type(outcome.headers.get("content-type", ""))
        or format_of_name(urlsplit(str(outcome.url)).path)
        or sniff(body.read(_HEAD))
    )
    answered = Validators(outcome.headers.get("etag"), outcome.headers.get("last-modified"))
    return Loaded(source, fmt, body=body, validators=answered)


def _download(
    source: str, client: httpx.Client, headers: dict[str, str], body: IO[bytes]
) -> httpx.Response | Problem | Unreachable | NotModified:
    """The response (its body written to `body`), or why there is none."""
    try:
        with client.stream("GET", source, headers=headers, follow_redirects=True) as response:
            if response.status_code == 304:
                return NotModified(source)
            if not response.is_success:
                reason = f"{response.status_code} {response.reason_phrase}".strip()
                return Problem(source, "", "", f"the server answered {reason}; check the URL")
            for chunk in response.iter_bytes():
                body.write(chunk)
            return response
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        return Problem(source, "", "", f"not a valid http(s) URL: {error}")
    except httpx.TransportError as error:
        return Unreachable(source, str(error) or type(error).__name__)
    except httpx.HTTPError as error:
        return Problem(source, "", "", f"cannot fetch: {error}")


def new_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, headers={"User-Agent": "digest (ingest)"})
