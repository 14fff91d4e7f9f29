"""Editor passwords as scrypt hashes in the PHC string format: "$scrypt$ln=15,r=8,p=1$salt$hash".

The string names its own cost, so a hash made today still verifies after the default cost rises;
verifying compares in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# scrypt with N = 2**15, r = 8, p = 1: 32 MiB and tens of milliseconds per guess.
DEFAULT_LOG2_N = 15
DEFAULT_R = 8
DEFAULT_P = 1
_KEY_BYTES = 32
_SALT_BYTES = 16
_FORMAT = re.compile(
    r"\$scrypt\$ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d{1,2})"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<key>[A-Za-z0-9+/]+)"
)


class BadHash(ValueError):
    """The stored string is not a hash this module made."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 2**log2_n
    # hashlib refuses more than 32 MiB by default; scrypt needs 128 * N * r bytes, plus slack.
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=128 * n * r * p + 2**20,
        dklen=_KEY_BYTES,
    )


def hash_password(
    password: str, *, log2_n: int = DEFAULT_LOG2_N, r: int = DEFAULT_R, p: int = DEFAULT_P
) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, log2_n, r, p)
    return f"$scrypt$ln={log2_n},r={r},p={p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (constant-time comparison)."""
    match = _FORMAT.fullmatch(stored.strip())
    if match is None:
        raise BadHash("not an scrypt hash from `digest editor hash-password`")
    log2_n, r, p = int(match["ln"]), int(match["r"]), int(match["p"])
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise BadHash("the hash names a cost outside what this server computes")
    expected = _unb64(match["key"])
    actual = _scrypt(password, _unb64(match["salt"]), log2_n, r, p)
    return hmac.compare_digest(actual, expected)
