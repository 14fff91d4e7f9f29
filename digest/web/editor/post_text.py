"""A post's text as marketing edits it: counted by the platform's own counting (the code that
composed it), checked for what the platform would refuse, and cut into the pieces the platform
shows (links shortened as it shortens them, hashtags as links), for the preview.

Pure functions: the count endpoint runs them on every keystroke, the save runs them again, and a
text that does not pass is never stored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import regex

from digest.render.social import PLATFORMS, BlueskyPlatform, Platform, SocialPost, ThreadsPlatform
from digest.render.social.counting import url_spans
from digest.render.social.threads import links_in

# A tag as every platform here reads one: letters, marks, digits and `_`, a letter among them,
# not glued to a word, a URL's path or another tag.
_HASHTAG = regex.compile(r"(?<![\p{L}\p{M}\p{N}_#/&])#([\p{L}\p{M}\p{N}_]+)")
_LETTER = regex.compile(r"\p{L}")
# How long a link's shown text is before the platform cuts it with "…" (None: in full).
_SHOWN_LINK = {"x": 23, "mastodon": 30, "threads": 30, "bluesky": 30}


@dataclass(frozen=True, slots=True)
class Piece:
    kind: str  # "text" | "link" | "tag"
    text: str  # as the platform shows it
    href: str = ""  # a link's full address


@dataclass(frozen=True, slots=True)
class Checked:
    length: int  # by the platform's own counting
    limit: int
    problems: tuple[str, ...]  # what stops it being saved
    pieces: tuple[Piece, ...]

    @property
    def fits(self) -> bool:
        return not self.problems


def rules_for(post: SocialPost) -> Platform:
    """The platform's counting with the limit the post was composed to (a Mastodon server may
    announce its own)."""
    return PLATFORMS[post.platform].with_limits(max_length=post.limit, url_length=None)


def hashtags_in(text: str) -> list[str]:
    """The text's hashtags without "#", in order, those inside a link left out."""
    links = url_spans(text, without_scheme=False)
    found = []
    for match in _HASHTAG.finditer(text):
        inside = any(start <= match.start() < end for start, end in links)
        if not inside and _LETTER.search(match[1]) and match[1] not in found:
            found.append(match[1])
    return found


def edited(post: SocialPost, text: str) -> SocialPost:
    """The post with marketing's text: counted again, its hashtags those the text now carries
    (the composer's order first, then the new ones)."""
    text = text.replace("\r\n", "\n").strip()
    tags = hashtags_in(text)
    kept = [tag for tag in post.hashtags if tag in tags]
    hashtags = (*kept, *(tag for tag in tags if tag not in kept))
    return dataclasses.replace(
        post, text=text, hashtags=hashtags, length=rules_for(post).length(text)
    )


def check(post: SocialPost) -> Checked:
    """The post counted again, against its limit, and everything that stops it being saved."""
    length = rules_for(post).length(post.text)
    problems = []
    if not post.text.strip():
        problems.append("the post is empty")
    if post.url and post.url not in post.text:
        problems.append(f"keep the link {post.url}: the post is about it")
    problems.extend(refusals(post, length))
    return Checked(length, post.limit, tuple(problems), tuple(pieces(post)))


def refusals(post: SocialPost, length: int) -> list[str]:
    """What the platform would refuse of the post, `length` being its count."""
    found = []
    if length > post.limit:
        found.append(f"{length - post.limit} over the limit of {post.limit}")
    if post.platform == "bluesky" and len(post.text.encode()) > BlueskyPlatform.max_bytes:
        found.append(f"over Bluesky's {BlueskyPlatform.max_bytes} bytes")
    if post.platform == "threads" and links_in(post.text) > ThreadsPlatform.max_links:
        found.append(f"more than {ThreadsPlatform.max_links} links: Threads refuses it")
    return found


def pieces(post: SocialPost) -> list[Piece]:
    """The text cut into plain text, links (shown shortened where the platform shortens them)
    and hashtags, in order."""
    text = post.text
    marks: list[tuple[int, int, Piece]] = []
    for start, end in url_spans(text, without_scheme=False):
        address = text[start:end]
        marks.append((start, end, Piece("link", shown_link(address, post.platform), address)))
    tags = set(post.hashtags)
    links = [(start, end) for start, end, _ in marks]
    for match in _HASHTAG.finditer(text):
        inside = any(start <= match.start() < end for start, end in links)
        if match[1] in tags and not inside:
            marks.append((match.start(), match.end(), Piece("tag", match[0])))
    marks.sort(key=lambda mark: mark[0])
    found: list[Piece] = []
    position = 0
    for start, end, piece in marks:
        if start > position:
            found.append(Piece("text", text[position:start]))
        found.append(piece)
        position = end
    if position < len(text):
        found.append(Piece("text", text[position:]))
    return found


def shown_link(address: str, platform: str) -> str:
    """A link as the platform prints it: without its scheme and `www.`, cut with "…"."""
    width = _SHOWN_LINK.get(platform)
    if width is None:
        return address
    shown = regex.sub(r"^https?://(www\.)?", "", address)
    return shown if len(shown) <= width else shown[: width - 1] + "…"
