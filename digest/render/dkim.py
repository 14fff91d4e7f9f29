"""DKIM signatures (RFC 6376), rsa-sha256 and ed25519-sha256 (RFC 8463), on finished messages.

dkimpy does the DKIM work: the relaxed canonicalisation of headers and body and the folding of
the DKIM-Signature field here, and the verification in the tests. Picking the signed fields in
`h=` order is a few lines here (dkimpy's own loop lowercases every name for every field, a third
of a signature's cost). The signature itself is OpenSSL's, through `cryptography`: dkimpy's own
RSA is pure Python, about 25 times slower, which would cap a worker at a few dozen messages a
second.

The signature covers what RFC 8058 and the bulk-sender rules need: From, To, Subject, Date,
Message-ID, List-Id, List-Unsubscribe and List-Unsubscribe-Post, each signed once more than it
occurs (so that none can be added), and Reply-To, Cc and Sender signed as absent.

A body is the same for every subscriber of a variant only if it holds nothing of theirs; ours
holds their name and their links, so the body hash is computed per message. What is done once
per variant is the canonicalisation: `CanonicalBody` keeps the frame's literal chunks in their
relaxed form, and a message's hash is one SHA-256 over those chunks and its own values (a value
that could change how the text around it canonicalises sends the message the general way).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy, Relaxed

from digest.errors import ConfigError, Problem
from digest.settings import Settings

_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_IDENTITY = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
SIGNED_HEADERS = (
    *_IDENTITY,
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    *_IDENTITY,  # once more than they occur: an added one breaks the signature
    b"reply-to",
    b"cc",
    b"sender",  # absent, and so signed as absent
)
_WANTED = frozenset(SIGNED_HEADERS)
MIN_RSA_BITS = 1024  # RFC 8301: verifiers refuse shorter keys
_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9_-]+)*")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}")

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class KeyProblem(ValueError):
    """A DKIM key or name that cannot sign; the message never holds the key itself."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class DkimKey:
    selector: str
    domain: str
    key: PrivateKey

    @property
    def algorithm(self) -> bytes:
        return b"rsa-sha256" if isinstance(self.key, rsa.RSAPrivateKey) else b"ed25519-sha256"

    def signed_digest(self, digest: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        # RFC 8463: PureEdDSA over the SHA-256 hash of the signed header data.
        return self.key.sign(digest)


def load_private_key(text: str) -> PrivateKey:
    """A PEM key (RSA or Ed25519, PKCS#1 or PKCS#8), its DER in base64, or an Ed25519 seed in
    base64 (dkimpy's own format)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = base64.b64decode("".join(text.split()), validate=True)
            if len(raw) == 32:
                key = ed25519.Ed25519PrivateKey.from_private_bytes(raw)
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        # The library's own message could quote the input: never show it.
        raise KeyProblem(
            "private_key",
            "not a private key: give the PEM file's whole text (`digest dkim-keygen` makes one)",
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyProblem(
                "private_key", f"an RSA key of {key.key_size} bits is too short: use 2048"
            )
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise KeyProblem("private_key", "DKIM signs with RSA or Ed25519 keys only")


class CanonicalBody:
    """A body's constant chunks in relaxed form, made once; each message's hash from them.

    `literals` and the values interleave as literal[0] value[0] literal[1] … literal[n]. The
    relaxed form of the whole is the relaxed form of each piece joined, provided that no value
    starts or ends with whitespace or a line break, holds a tab, two spaces or a space before a
    line break, and the last literal holds some text (so that the trailing-lines rule is its
    own). Anything else is left to `DkimSigner.sign`, which canonicalises the whole message.
    """

    def __init__(self, literals: Sequence[bytes]) -> None:
        *inner, last = literals
        self.self_contained = last.strip(b" \t\r\n") != b""
        self.literals = [*map(_relaxed_inside, inner), Relaxed.canonicalize_body(last)]

    def digest(self, values: Sequence[bytes]) -> bytes | None:
        """The SHA-256 of the relaxed body, or None if a value needs the general way."""
        if not self.self_contained or (values and holds_mark(values, _AWKWARD)):
            return None
        pieces = [self.literals[0]]
        for value, literal in zip(values, self.literals[1:], strict=True):
            pieces += (value, literal)
        return hashlib.sha256(b"".join(pieces)).digest()


def _relaxed_inside(literal: bytes) -> bytes:
    # The body rules but the last one: trailing empty lines only matter at the end.
    return Relaxed.canonicalize_body(literal + b"x")[:-3]


# What marks a value that could change how its neighbours canonicalise (`holds_mark`): empty,
# starting with whitespace or a line break, ending with whitespace, or holding a tab, two
# spaces or a space before a line break.
_AWKWARD = (b"\x00\x00", b"\x00 ", b"\x00\t", b"\x00\r", b"\x00\n", b" \x00", b"\t", b"  ", b" \r")


def holds_mark(values: Sequence[bytes], marks: Sequence[bytes]) -> bool:
    """Whether the values, joined and framed by NULs, hold one of `marks`: one scan each in C,
    not a Python loop over the values. A NUL inside a value can only make more of them match."""
    joined = b"\x00" + b"\x00".join(values) + b"\x00"
    return any(mark in joined for mark in marks)


class DkimSigner:
    """Signs each message with every key (a second key: rsa-sha256 and ed25519-sha256 both)."""

    def __init__(self, keys: Sequence[DkimKey]) -> None:
        if not keys:
            raise ValueError("a signer needs a key")
        self.keys = tuple(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        """The signer `email.dkim` describes, or None; ConfigError naming the key at fault."""
        options = settings.email.dkim
        if options is None:
            return None
        pairs = [("email.dkim", options.selector, options.private_key)]
        if options.second is not None:
            pairs.append(("email.dkim.second", options.second.selector, options.second.private_key))
        keys, problems = [], []
        if not _DOMAIN.fullmatch(options.domain):
            message = f"{options.domain!r} is not a domain name; use the From address's domain"
            problems.append(Problem(settings.source, "", "email.dkim.domain", message))
        for path, selector, secret in pairs:
            try:
                key = load_private_key(secret.reveal())
                if not _SELECTOR.fullmatch(selector):
                    raise KeyProblem("selector", "use letters, digits and hyphens (dots between)")
            except KeyProblem as problem:
                field = f"{path}.{problem.field}"
                problems.append(Problem(settings.source, "", field, str(problem)))
                continue
            keys.append(DkimKey(selector, options.domain, key))
        if problems:
            raise ConfigError(problems)
        return cls(keys)

    def sign(self, message: bytes, now: datetime | None = None) -> bytes:
        """The message with its signatures on top; the body canonicalised here, in full.

        `now` stamps t=; without it, the message's own Date."""
        head, separator, body = message.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("the message has no body separator")
        head += b"\r\n"
        if now is None:
            now = _date_of(head)
        body_hash = hashlib.sha256(_POLICY.canonicalize_body(body)).digest()
        return self.signatures(head, body_hash, now) + message

    def signatures(self, head: bytes, body_hash: bytes, now: datetime) -> bytes:
        """The DKIM-Signature fields for a header block (CRLF-ended lines) and a body hash."""
        signed = _signed_header_data(head)
        return b"".join(self._signature(key, signed, body_hash, now) for key in self.keys)

    def _signature(self, key: DkimKey, signed: bytes, body_hash: bytes, now: datetime) -> bytes:
        folded, canonical = _tags(key.algorithm, key.domain, key.selector, int(now.timestamp()))
        bh = base64.b64encode(body_hash)
        # bh= and b= start lines of their own: the rest, folded and canonicalised once a second,
        # stays as it was hashed, and the relaxed form of the whole is known without a regex.
        unsigned = folded + b"\r\n bh=" + bh + b";\r\n b="
        # RFC 6376 section 3.7: the signed fields, then this field without b='s value or CRLF.
        own = b"dkim-signature:" + canonical + b" bh=" + bh + b"; b="
        signature = base64.b64encode(key.signed_digest(hashlib.sha256(signed + own).digest()))
        lines = [signature[start : start + 72] for start in range(0, len(signature), 72)]
        return b"DKIM-Signature:" + unsigned + b"\r\n ".join(lines) + b"\r\n"


@functools.lru_cache(maxsize=8)
def _tags(algorithm: bytes, domain: str, selector: str, timestamp: int) -> tuple[bytes, bytes]:
    """The tags before bh=, folded by dkimpy, and their relaxed form (a send shares them for a
    second)."""
    fields = (
        (b"v", b"1"),
        (b"a", algorithm),
        (b"c", _POLICY.to_c_value()),
        (b"d", domain.encode()),
        (b"s", selector.encode()),
        (b"t", str(timestamp).encode()),
        (b"h", b" : ".join(SIGNED_HEADERS)),  # spaces: where dkimpy may fold the list
    )
    tags = b"; ".join(tag + b"=" + value for tag, value in fields) + b";"
    folded = dkim.fold(b" " + tags, namelen=len(b"DKIM-Signature:"))
    ((_, canonical),) = _POLICY.canonicalize_headers([(b"DKIM-Signature", folded)])
    return folded, canonical.rstrip()


@functools.lru_cache(maxsize=4096)
def _canonical_field(name: bytes, value: bytes) -> bytes:
    """One field's relaxed form; most fields of a send are the same in every message."""
    ((name, value),) = _POLICY.canonicalize_headers([(name, value)])
    return name + b":" + value


def _signed_header_data(head: bytes) -> bytes:
    """The relaxed form of the signed fields, in `h=` order: each name's occurrences from the
    last up, and nothing for a name listed more often than it occurs (RFC 6376 5.4.2)."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.removesuffix(b"\r\n").split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b"\r\n" + line)
        else:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    found: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        if name.lower() in _WANTED:
            found.setdefault(name.lower(), []).append(_canonical_field(name, value))
    chunks = []
    for name in SIGNED_HEADERS:
        occurrences = found.get(name)
        if occurrences:
            chunks.append(occurrences.pop())
    return b"".join(chunks)


def _date_of(head: bytes) -> datetime:
    match = re.search(rb"^Date:[ \t]*([^\r\n]+)", head, re.MULTILINE | re.IGNORECASE)
    if match is None:
        raise ValueError("the message has no Date to stamp its signature with")
    return parsedate_to_datetime(match.group(1).decode("ascii"))


def remove_signatures(message: bytes) -> bytes:
    """The message without its DKIM-Signature fields (to sign again after re-encoding it)."""
    head, separator, body = message.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    kept, dropping = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(b"dkim-signature:")
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + separator + body


# Keys for `digest dkim-keygen` ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewKey:
    private_pem: bytes  # PKCS#8 PEM: what `email.dkim.private_key` takes
    dns_value: str  # the TXT record's text: v=DKIM1; k=…; p=…


def new_key(kind: str) -> NewKey:
    """A fresh key pair: RSA 2048 (what every receiver verifies) or Ed25519 (RFC 8463)."""
    key: PrivateKey
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unknown key type {kind!r}: rsa or ed25519")
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return NewKey(private_pem=pem, dns_value=public_record(key))


def public_record(key: PrivateKey) -> str:
    """The DNS TXT text that publishes a private key's public half."""
    if isinstance(key, rsa.RSAPrivateKey):
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"


def zone_strings(value: str) -> str:
    """A TXT value as quoted strings of at most 255 characters each (RFC 1035's limit)."""
    chunks = [value[start : start + 255] for start in range(0, len(value), 255)]
    return " ".join(f'"{chunk}"' for chunk in chunks)
