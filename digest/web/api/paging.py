"""Cursors: the key of a page's last row, opaque to clients (base64 of JSON), and the page size."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from digest.errors import Problem
from digest.web.api.operations import Call, invalid


def encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode(cursor: str | None, shape: tuple[Callable[[Any], Any], ...]) -> list[Any] | None:
    """The key in a cursor, each part read by its function in `shape` (`str`, `int`,
    `datetime.fromisoformat`); 422 for a cursor that is not one of ours."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(key, list) or len(key) != len(shape):
            raise ValueError("not a key")
        return [_part(read, part) for read, part in zip(shape, key, strict=True)]
    except (binascii.Error, ValueError, TypeError):
        message = "not a cursor of this list; pass next_cursor from the previous page as it is"
        raise invalid([Problem("", "query", "cursor", message)]) from None


def _part(read: Callable[[Any], Any], part: Any) -> Any:
    # Only the types a cursor is made of: a number where text belongs is not ours.
    if not isinstance(part, str | int) or isinstance(part, bool):
        raise TypeError("not a key part")
    if read in (str, int) and not isinstance(part, read):
        raise TypeError("not a key part")
    return read(part)


def size(call: Call) -> int:
    limit: int | None = call.query.limit
    return limit or call.ctx.settings.web.api.page_size
