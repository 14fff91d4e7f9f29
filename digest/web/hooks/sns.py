"""Amazon SNS message signatures, checked as AWS documents them ("Verifying the signatures of
Amazon SNS messages").

The signed text is `Name\\nValue\\n` for a fixed list of fields in a fixed order, which depends on
the message's Type. The signature is RSA PKCS#1 v1.5 over SHA-1 (SignatureVersion 1) or SHA-256
(SignatureVersion 2), made with the key of the certificate at SigningCertURL. Anyone can put any
URL there, so a certificate is fetched only from an https URL on an `sns.<region>.amazonaws.com`
host (TLS to that host is what vouches for the certificate), and kept, so one is fetched once.

Needs the `cryptography` package: `pip install 'digest[ses]'`.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    # Subject only when the message has one: `optional` below.
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_FIELDS,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_FIELDS,
}
_OPTIONAL_FIELDS = frozenset({"Subject"})
_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
# sns.eu-west-1.amazonaws.com, and the China regions' sns.cn-north-1.amazonaws.com.cn.
_SNS_HOST = re.compile(r"sns\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?")


class SnsError(Exception):
    """The message is not a genuine SNS message; says why."""


def canonical_string(message: Mapping[str, Any]) -> bytes:
    """The text SNS signed for `message` (one `Name\\nValue\\n` per signed field)."""
    kind = message.get("Type")
    fields = SIGNED_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise SnsError(f"unknown SNS message Type {kind!r}")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None and name in _OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise SnsError(f"SNS {kind} without a text {name}")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def check_sns_url(url: object, what: str) -> str:
    """`url` if it is https on an SNS host (no port, no user), else SnsError."""
    if not isinstance(url, str):
        raise SnsError(f"{what} is missing")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if (
        parts.scheme != "https"
        or not _SNS_HOST.fullmatch(host)
        or parts.port is not None
        or parts.username is not None
        or parts.password is not None
    ):
        raise SnsError(f"{what} {url!r} is not an https URL on an sns.<region>.amazonaws.com host")
    return url


class CertificateCache:
    """Signing certificates by URL, fetched through `client`; thread-safe, bounded."""

    def __init__(self, client: httpx.Client, max_entries: int = 32) -> None:
        self._client = client
        self._max_entries = max_entries
        self._certificates: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, where: object) -> x509.Certificate:
        url = check_sns_url(where, "SigningCertURL")
        with self._lock:
            if url in self._certificates:
                self._certificates.move_to_end(url)
                return self._certificates[url]
        certificate = self._fetch(url)
        with self._lock:
            self._certificates[url] = certificate
            while len(self._certificates) > self._max_entries:
                self._certificates.popitem(last=False)
        return certificate

    def _fetch(self, url: str) -> x509.Certificate:
        try:
            response = self._client.get(url, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise SnsError(f"could not fetch the signing certificate {url}: {exc}") from exc
        if response.status_code != 200:
            raise SnsError(f"the signing certificate {url} answered {response.status_code}")
        try:
            return x509.load_pem_x509_certificate(response.content)
        except ValueError as exc:
            raise SnsError(f"the signing certificate {url} is not a PEM certificate") from exc


def verify(message: Mapping[str, Any], certificates: CertificateCache, now: datetime) -> None:
    """Nothing if `message` carries a valid SNS signature, else SnsError."""
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise SnsError(f"unsupported SignatureVersion {message.get('SignatureVersion')!r}")
    signed = canonical_string(message)
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsError("Signature is not base64") from exc
    certificate = certificates.get(message.get("SigningCertURL"))
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SnsError("the signing certificate is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsError("the signing certificate does not hold an RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise SnsError("the signature does not match the message") from exc
