"""What every social adapter receives and declares, and the HTTP plumbing the real ones share.

Capabilities are class attributes the deliverer reads:

- `idempotent`: the service itself drops a repeated post (Mastodon's `Idempotency-Key`, the file
  adapter's keys), so a row whose last attempt had no answer may simply be sent again;
- `finds_posts`: the adapter can look on the platform for a post an unanswered attempt may have
  made (`Attempt.after_unknown`), so it never posts blindly twice.

A row on a platform with neither is held for an editor instead (see `Deliverer._post`).

A post's picture is the item's own `image_url` when the input gave one, else its share card
(`SocialPost.image`), which reaches an adapter through `cards`, a look-up the deliverer gives it
(the store's cards). Platforms that fetch a picture themselves get its public URL (the card's on
`site.base_url`, served by the web app); platforms that take an upload get the bytes. The item's
own picture is fetched for them only over https from a host whose every address is public (never
the worker's own network), from the address checked, without redirects, at most
`max_picture_bytes`, and only a PNG, JPEG, GIF or WebP that Pillow reads; anything else falls
back to the card, with a warning.
"""

from __future__ import annotations

import dataclasses
import email.utils
import io
import ipaddress
import json
import logging
import re
import socket
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import PIL.Image

from digest.delivery.base import Adapter
from digest.errors import ConfigError, Problem
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.cards import CardLookup, card_size_of
from digest.render.social import PLATFORMS, Platform, SocialPost
from digest.settings import Secret, Settings
from digest.store.channel_tokens import StoredTokens

log = logging.getLogger("digest.social")
# httpx logs every request's full URL at INFO, and a webhook's URL is its credential: keep
# httpx to warnings, and log our own (masked) lines instead.
logging.getLogger("httpx").setLevel(logging.WARNING)

# The start of a row's last error when the outcome of its last attempt is not known: recorded
# before a call to a platform without idempotency keys, and by an adapter that got no answer.
UNKNOWN_OUTCOME = "outcome unknown"
MASK = "********"


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int = 1  # 1 for the first
    after_unknown: bool = False  # an earlier attempt may have posted: look before posting
    scheduled_for: datetime | None = None  # the time the post is meant to be published at


@dataclass(frozen=True, slots=True)
class Reply:
    """The provider ids of a thread's first post and of the post this one answers."""

    root: str
    parent: str


FIRST = Attempt()


@dataclass(frozen=True, slots=True)
class Picture:
    """A post's picture as adapters send it: the item's own, or its share card."""

    data: bytes
    alt: str  # what it shows, for screen readers
    url: str  # its public address: what a platform that fetches pictures is given
    width: int
    height: int
    content_type: str = "image/png"

    @property
    def file_name(self) -> str:
        """A name for the upload: the last part of its address when that names its type."""
        extension = _EXTENSIONS[self.content_type]
        name = urllib.parse.urlsplit(self.url).path.rpartition("/")[2]
        known = name.lower().endswith((f".{extension}", ".jpeg" if extension == "jpg" else "."))
        return name if known and _SAFE_NAME.fullmatch(name) else f"picture.{extension}"


# The pictures platforms take, by the type a server answers and the format Pillow reads.
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_PICTURE_TIMEOUT = httpx.Timeout(10.0).as_dict()
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
Resolver = Callable[[str], Iterable[str]]


def resolve_host(host: str) -> list[str]:
    """The addresses a host name resolves to (for an https connection)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)]


class _NotAPicture(Exception):
    """Why an item's picture is not fetched, or what its URL answered instead of a picture."""


def public_address(url: str, resolve: Resolver) -> str:
    """The address to fetch `url` from: https only, and a host whose every address is public
    (an input must never make the worker read its own network). Raises _NotAPicture."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise _NotAPicture("not an https URL")
    try:
        addresses = [address.split("%", 1)[0] for address in resolve(parts.hostname)]
    except (OSError, UnicodeError) as exc:
        raise _NotAPicture(f"its host does not resolve ({exc})") from exc
    if not addresses:
        raise _NotAPicture("its host does not resolve")
    for address in addresses:
        if not ipaddress.ip_address(address).is_global:
            raise _NotAPicture(f"its host is on a private network ({address})")
    return addresses[0]


def _picture_of(data: bytes, content_type: str, alt: str, url: str) -> Picture | None:
    """The picture in `data` if Pillow reads it as the type the server said, else None."""
    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            if _FORMATS.get(image.format or "") != content_type:
                return None
            width, height = image.size
    except (PIL.UnidentifiedImageError, OSError, ValueError, PIL.Image.DecompressionBombError):
        return None
    return Picture(data, alt, url, width, height, content_type)


class SocialAdapter(Adapter[Any]):
    # The platform whose rules posts follow; None when the channel's `platform:` says it.
    platform: ClassVar[str | None] = None
    idempotent: ClassVar[bool] = False
    finds_posts: ClassVar[bool] = False
    # The largest picture the platform takes as an upload; an item's own that is larger is not
    # fetched whole (its card goes instead).
    max_picture_bytes: ClassVar[int] = 5_000_000

    def __init__(
        self,
        options: Any,
        settings: Settings,
        *,
        channel: str,
        path: str,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
        tokens: StoredTokens | None = None,
        cards: CardLookup | None = None,
        resolve: Resolver = resolve_host,
    ) -> None:
        super().__init__(options, settings)
        self.cards = cards
        self.resolve = resolve  # host names to addresses, before fetching an item's picture
        self.channel = channel
        self.tokens = tokens  # where tokens the channel renews itself are kept (X's)
        configured = next((c.platform for c in settings.social if c.name == channel), None)
        platform = self.platform or configured
        if platform not in PLATFORMS:
            known = ", ".join(sorted(PLATFORMS))
            raise ConfigError(
                [Problem(settings.source, "", f"{path}.platform", f"choose one of {known}")]
            )
        self.platform_name: str = platform
        self._client = client
        self._owns_client = client is None
        self.clock = clock or (lambda: datetime.now(UTC))

    def rules(self) -> Platform:
        """The rules posts for this channel are composed to (a server may announce its own)."""
        return PLATFORMS[self.platform_name]

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        raise NotImplementedError

    # Pictures ----------------------------------------------------------------------------------

    def card(self, post: SocialPost) -> Picture | None:
        """The post's share card, if it has one and the store holds it."""
        if not post.image or self.cards is None:
            return None
        found = self.cards(post.image)
        if found is None:
            log.warning("%s: no stored card at %s: posting without it", self.channel, post.image)
            return None
        size = card_size_of(post.image)
        png, alt = found
        base = self.settings.site.base_url.rstrip("/")
        return Picture(png, alt, f"{base}/{post.image}", size.width, size.height)

    def picture(self, post: SocialPost) -> Picture | None:
        """The picture to upload with the post: the item's own when the input gave one and it
        can be fetched safely, else its share card."""
        card = self.card(post)
        if post.image_url:
            own = self._fetch_picture(post.image_url, card.alt if card else post.title)
            if own is not None:
                return own
        return card

    def picture_link(self, post: SocialPost) -> tuple[str, str] | None:
        """(public URL, alt text) of the post's picture, for platforms that fetch it themselves:
        the item's own image when the input gave one, else its card on the site."""
        card = self.card(post)
        if post.image_url:
            return post.image_url, card.alt if card is not None else post.title
        return (card.url, card.alt) if card is not None else None

    def _fetch_picture(self, url: str, alt: str) -> Picture | None:
        try:
            data, content_type = self._download(url, public_address(url, self.resolve))
        except _NotAPicture as refused:
            return self._not_fetched(url, str(refused))
        except httpx.HTTPError as exc:
            return self._not_fetched(url, f"no answer ({exc.__class__.__name__})")
        return _picture_of(data, content_type, alt, url) or self._not_fetched(
            url, f"{content_type} that is not a picture Pillow reads"
        )

    def _not_fetched(self, url: str, problem: str) -> None:
        log.warning("%s: the item's picture %s: %s; posting its card", self.channel, url, problem)

    def _download(self, url: str, address: str) -> tuple[bytes, str]:
        """GET `url` from the address that was checked, not from a second look-up (which a
        hostile DNS server could answer with an internal address): the host name goes in Host
        and in TLS's SNI, against which the certificate is verified."""
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname is not None
        literal = f"[{address}]" if ":" in address else address
        port = f":{parts.port}" if parts.port else ""
        pinned = urllib.parse.urlunsplit(parts._replace(netloc=f"{literal}{port}"))
        request = self.client.build_request(
            "GET",
            pinned,
            headers={"Host": parts.netloc.rpartition("@")[2]},
            extensions={"sni_hostname": parts.hostname, "timeout": _PICTURE_TIMEOUT},
        )
        response = self.client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                raise _NotAPicture(f"answered {response.status_code}")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type not in _EXTENSIONS:
                raise _NotAPicture(f"{content_type or 'no type'} is not a picture to upload")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > self.max_picture_bytes:
                    raise _NotAPicture(f"larger than {self.max_picture_bytes:,} bytes")
        finally:
            response.close()
        return bytes(data), content_type

    # HTTP --------------------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(15.0, connect=5.0), headers={"User-Agent": "digest/0.1"}
            )
        return self._client

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def secrets(self) -> Iterable[str]:
        """Every credential of the channel, revealed, so that none is ever shown. A secret URL
        (a webhook's) also yields its longer path segments: a service may quote the token alone."""
        for field in dataclasses.fields(self.options):
            value = getattr(self.options, field.name)
            if isinstance(value, Secret):
                revealed = value.reveal()
                yield revealed
                if "://" in revealed:
                    parts = httpx.URL(revealed)
                    yield from (part for part in parts.path.split("/") if len(part) >= 16)
                    if parts.query:
                        yield parts.query.decode()

    def mask(self, text: str) -> str:
        for secret in sorted(set(self.secrets()) | self._extra_secrets(), key=len, reverse=True):
            if secret:
                text = text.replace(secret, MASK)
        return text

    def _extra_secrets(self) -> set[str]:
        """Credentials obtained at run time (session tokens); none by default."""
        return set()

    def request(
        self, method: str, url: str, *, posts: bool = True, **kwargs: Any
    ) -> httpx.Response | DeliveryResult:
        """The service's response, or the result of a call that got none (secrets masked).

        `posts=False` for a call that cannot make a post (a picture's upload): without an
        answer it is only worth another try, never an outcome to look for or hold."""
        try:
            return self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # Never connected: nothing can have been posted.
            message = self.mask(f"{self.channel}: could not connect: {error}")
            log.warning("%s", message)
            return DeliveryResult(DeliveryStatus.FAILED, response=message, transient=True)
        except httpx.HTTPError as error:
            message = self.mask(f"{self.channel}: no answer: {type(error).__name__}: {error}")
            log.warning("%s", message)
            return self.unknown(message, posts=posts)

    def unknown(self, message: str, *, posts: bool = True) -> DeliveryResult:
        """A call that may have posted. Idempotent services take a retry; the others are
        marked so the next attempt looks first (or is held)."""
        if posts and not self.idempotent:
            message = f"{UNKNOWN_OUTCOME}: {message}"
        return DeliveryResult(DeliveryStatus.FAILED, response=message, transient=True)

    def error_result(self, response: httpx.Response, *, posts: bool = True) -> DeliveryResult:
        """A non-2xx answer in the shared vocabulary: 401/403 need new credentials, 400/422 are
        refusals of this post, 429 and 5xx are worth a later try."""
        code = response.status_code
        body = self.mask(response.text[:500])
        message = f"{self.channel}: HTTP {code}: {body}"
        log.warning("%s", message)
        if code in (401, 403):
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"{message} (check the channel's credentials in settings.yaml)",
            )
        if code == 429:
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=message,
                transient=True,
                retry_after=self.retry_after(response),
            )
        if code >= 500:
            result = self.unknown(message, posts=posts)
            wait = self.retry_after(response)
            return DeliveryResult(
                result.status, response=result.response, transient=True, retry_after=wait
            )
        return DeliveryResult(DeliveryStatus.REJECTED, response=message)

    def retry_after(self, response: httpx.Response) -> float | None:
        """Seconds to wait, from Retry-After (seconds or a date) or a rate-limit reset header
        (epoch seconds on X and Bluesky, an ISO timestamp on Mastodon)."""
        now = self.clock()
        retry = response.headers.get("retry-after")
        if retry:
            try:
                return max(0.0, float(retry))
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(retry)
                if parsed is not None:
                    return max(0.0, (parsed - now).total_seconds())
        for name in ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"):
            reset = response.headers.get(name)
            if not reset:
                continue
            try:
                return max(0.0, float(reset) - now.timestamp())
            except ValueError:
                pass
            try:
                moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            except ValueError:
                continue
            return max(0.0, (moment - now).total_seconds())
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
            return float(body["retry_after"])  # Discord's body
        return None

    def sent(self, provider_id: str) -> DeliveryResult:
        log.info("%s: posted %s", self.channel, provider_id)
        return DeliveryResult(DeliveryStatus.SENT, provider_id=provider_id)
