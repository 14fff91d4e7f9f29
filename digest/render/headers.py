"""Header lines written from text: whatever a value holds, the reader gets that text back.

Both message builders (the fast frame and the email package's) write their headers here, so the
two cannot differ. Every value is first cleaned to one line (control characters, NUL, and the
line and paragraph separators become spaces). Then a word goes out as it is only when no reader
could take it for anything else: printable ASCII, short, and without "=?" or "?=". Any other
word (non-ASCII, too long to fold, or one that looks like an RFC 2047 encoded word) is itself
encoded, so decoding gives back the literal text, never a line break or a header of its own.
(The email package cannot be trusted with this: it decodes an encoded word found in a value it
is given, line breaks and all, and writes the result out.)

URL headers are ASCII, percent-encoded where needed, never encoded words, and folded only after
the comma between two URLs. Lines stay within RFC 2047's 76 characters when they carry an encoded
word, and RFC 5322's 78 otherwise, wherever the values allow it.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Sequence
from email.headerregistry import Address
from urllib.parse import quote

_LINE = 78  # RFC 5322: lines SHOULD be at most 78 characters
_ENCODED_LINE = 76  # RFC 2047: a line holding an encoded word is at most 76 characters
_MAX_LINE = 998  # RFC 5322: lines MUST be at most 998 characters
_LONGEST_PLAIN_WORD = 60  # longer words are encoded so that they can be folded

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PLAIN_WORD = re.compile(r"[!-~]+")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
# What may stand unencoded inside a Q-encoded word in a phrase (RFC 2047 section 5 (3)); being
# the strictest of the three contexts, it is used everywhere.
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
# RFC 3986's reserved and unreserved characters, and "%" (a URL may arrive percent-encoded).
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"
_URI_PLAIN = re.compile(r"[A-Za-z0-9!#$%&'()*+,/:;=?@\[\]~._-]+")
# Each byte's Q encoding: itself, "_" for a space, or =XX.
_Q_BYTES = tuple(
    chr(byte) if byte in _Q_LITERAL else "_" if byte == 0x20 else f"={byte:02X}"
    for byte in range(256)
)


def header_text(value: str) -> str:
    """The value as one line: control characters and line separators become spaces, runs of
    whitespace one space, none at either end."""
    if value.isprintable() and "  " not in value and value == value.strip():
        return value  # nearly every value: nothing to clean
    return " ".join(_UNPRINTABLE.sub(" ", value).split())


def unstructured(name: str, value: str) -> bytes:
    """`Name: value` for a text header (Subject)."""
    line = _Folder(name)
    line.add_text(header_text(value))
    return line.done()


def mailbox(name: str, display_name: str, addr_spec: str) -> bytes:
    """`Name: display name <address>`; the bare address when there is no display name.

    `addr_spec` must already be a valid ASCII address (`ascii_address`)."""
    return _named(name, header_text(display_name), addr_spec)


def list_id(list_name: str, identifier: str) -> bytes:
    """RFC 2919 `List-Id: name <list id>`."""
    identifier = header_text(identifier).strip("<>")
    if not re.fullmatch(r"[A-Za-z0-9.-]+", identifier):
        raise ValueError(f"list id {identifier!r}: use letters, digits, dots and hyphens only")
    return _named("List-Id", header_text(list_name), identifier)


def _named(name: str, display: str, target: str) -> bytes:
    """`Name: phrase <target>`, the phrase as atoms, a quoted string or one encoded word.

    One encoded word however long: decoders disagree about the space between two encoded words
    in a phrase (RFC 2047 says there is none, Python's email package reads one), and a name must
    read the same everywhere. RFC 2047 asks for at most 75 characters a word; the line stays
    within RFC 5322's 998, and the target goes on a line of its own when it does not fit."""
    if not display:
        return _lines([f"{name}: {target}"])
    if _is_plain(display, _ATOM_PHRASE):  # most names: nothing to quote or encode
        phrase = display
    elif display.isascii() and all(map(_is_plain, display.split(" "))):
        phrase = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = _encoded_word(display)
    line = f"{name}: {phrase} <{target}>"
    if len(line) <= (_LINE if phrase is display else _ENCODED_LINE):
        return f"{line}\r\n".encode("ascii")
    return _lines([f"{name}: {phrase}", f" <{target}>"])


def _encoded_word(text: str) -> str:
    data = text.encode()
    q = "".join(map(_Q_BYTES.__getitem__, data))
    # Q unless it is clearly longer (as the email package chooses): it reads better, and spam
    # filters count base64 in a header as a weak sign of spam.
    if len(q) - (len(data) + 2) // 3 * 4 < 5:
        return f"=?utf-8?q?{q}?="
    return f"=?utf-8?b?{_base64(data)}?="


def message_id(name: str, identifier: str) -> bytes:
    """`Message-ID: <id>`; the id is ours (a hash and a domain), so anything odd is a bug."""
    identifier = header_text(identifier).strip("<>")
    if not _PLAIN_WORD.fullmatch(identifier) or "<" in identifier or ">" in identifier:
        raise ValueError(f"message id {identifier!r} is not a plain ASCII token")
    return f"{name}: <{identifier}>\r\n".encode()


def uri_list(name: str, uris: Sequence[str]) -> bytes:
    """`Name: <uri>, <uri>` (List-Unsubscribe), folded only after a comma."""
    entries = [f"<{ascii_uri(uri)}>" for uri in uris]
    line = f"{name}: {', '.join(entries)}"
    if len(line) <= _LINE:
        return f"{line}\r\n".encode("ascii")
    lines = [f"{name}: {entries[0]}"]
    for entry in entries[1:]:
        if len(lines[-1]) + 2 + len(entry) > _LINE:
            lines[-1] += ","
            lines.append(f" {entry}")
        else:
            lines[-1] += f", {entry}"
    return _lines(lines)


def ascii_uri(value: str) -> str:
    """A URI fit to sit between angle brackets in a header: ASCII, no spaces, no brackets."""
    if _URI_PLAIN.fullmatch(value):  # what our own links always are
        return value
    return quote(header_text(value).strip("<> "), safe=_URI_SAFE)


def ascii_address(address: str) -> str:
    """The address as it may go in a header; ValueError for one no header of ours can carry."""
    # Address quotes a local part that needs it and refuses what is not one address.
    addr_spec = Address(addr_spec=header_text(address)).addr_spec
    if not addr_spec.isascii() or "@" not in addr_spec:
        raise ValueError(
            f"{address!r} is not an ASCII address (a non-ASCII one needs SMTPUTF8, not used here)"
        )
    return addr_spec


class _Folder:
    """One header field, built word by word, folded between words."""

    def __init__(self, name: str) -> None:
        self.lines: list[str] = []
        self.current = f"{name}:"
        self.start = len(self.current)
        self.encoded_on_line = False

    @property
    def has_words(self) -> bool:
        return bool(self.lines) or len(self.current) > self.start

    def _room(self, width: int, limit: int) -> bool:
        return len(self.current) + 1 + width <= limit

    def _fold(self) -> None:
        self.lines.append(self.current)
        self.current = ""
        self.encoded_on_line = False

    def add_word(self, word: str) -> None:
        limit = _ENCODED_LINE if self.encoded_on_line else _LINE
        if not self._room(len(word), limit) and self.has_words:
            self._fold()
        self.current += " " + word

    def add_text(self, text: str) -> None:
        """Unstructured text: plain words as they are, every run of other words encoded."""
        for plain, run in _runs(text.split(" ")):
            if plain:
                self.add_word(run)
            else:
                self.add_encoded(run)

    def add_encoded(self, text: str) -> None:
        """`text` as encoded words, each as long as the line allows (decoders join adjacent
        encoded words in unstructured text, so the folds between them add nothing to it)."""
        data = text.encode()
        q = _q_encoded(data)
        use_q = sum(map(len, q)) - (len(data) + 2) // 3 * 4 < 5  # as `_encoded_word` chooses
        prefix = "=?utf-8?q?" if use_q else "=?utf-8?b?"
        overhead = len(prefix) + 2
        pieces = q if use_q else [chr(byte) for byte in data]
        index = 0
        while index < len(pieces):
            if not self._room(overhead + 12, _ENCODED_LINE) and self.has_words:
                self._fold()
            room = _ENCODED_LINE - len(self.current) - 1 - overhead
            end = _fitting(pieces, index, room, base64=not use_q)
            if end == index:  # not even one character fits on this line: start a new one
                self._fold()
                continue
            chunk = pieces[index:end]
            payload = "".join(chunk) if use_q else _base64(bytes(map(ord, chunk)))
            self.current += f" {prefix}{payload}?="
            self.encoded_on_line = True
            index = end

    def done(self) -> bytes:
        self.lines.append(self.current)
        return _lines(self.lines)


def _lines(lines: Iterable[str]) -> bytes:
    lines = list(lines)
    if any(len(line) > _MAX_LINE for line in lines):
        raise ValueError("a header value is too long for one line")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _base64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()


def _is_plain(text: str, allowed: re.Pattern[str] = _PLAIN_WORD) -> bool:
    """Short, of `allowed` characters only, and nothing like an encoded word in it."""
    return (
        len(text) <= _LONGEST_PLAIN_WORD
        and allowed.fullmatch(text) is not None
        and "=?" not in text
        and "?=" not in text
    )


def _runs(words: list[str]) -> list[tuple[bool, str]]:
    """Words grouped into (plain, text) runs; the spaces inside an encoded run are encoded with
    it (the space between an encoded word and a plain one is kept by decoders)."""
    runs: list[tuple[bool, str]] = []
    for word in words:
        plain = _is_plain(word)
        if runs and not plain and not runs[-1][0]:
            runs[-1] = (False, f"{runs[-1][1]} {word}")
        else:
            runs.append((plain, word))
    return [run for run in runs if run[1]]


def _q_encoded(data: bytes) -> list[str]:
    """Each byte's Q encoding: a character that stands for itself, "_" for a space, or =XX."""
    return [_Q_BYTES[byte] for byte in data]


def _fitting(pieces: list[str], start: int, room: int, *, base64: bool) -> int:
    """How far from `start` the pieces fit in `room` characters of payload, ending on a whole
    UTF-8 character (an encoded word must hold whole characters, RFC 2047 section 5)."""
    end, width, last_whole = start, 0, start
    while end < len(pieces):
        width = (end + 1 - start + 2) // 3 * 4 if base64 else width + len(pieces[end])
        if width > room:
            break
        end += 1
        if end == len(pieces) or not _continuation(pieces[end]):
            last_whole = end
    return last_whole


def _continuation(piece: str) -> bool:
    """Whether this byte (as a Q piece or a raw character) continues a UTF-8 character."""
    byte = int(piece[1:], 16) if len(piece) == 3 and piece[0] == "=" else ord(piece)
    return 0x80 <= byte <= 0xBF
