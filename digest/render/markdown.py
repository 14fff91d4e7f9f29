"""An editor's Markdown, for the email's HTML part and its plain-text part.

Parsed by markdown-it-py (CommonMark, raw HTML off: a `<script>` typed in a note is text), the
HTML then sanitised by nh3 (Ammonia) to a short allow-list, links kept only to http(s) and
mailto. The text part is written from the same parse, so both parts say the same thing.
Pure functions: the same note gives the same bytes.
"""

from __future__ import annotations

import textwrap
from functools import cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_TAGS = {"p", "br", "em", "strong", "a", "ul", "ol", "li", "blockquote", "code", "pre", "h3"}
_WIDTH = 72


@cache
def _parser() -> MarkdownIt:
    # Headings are demoted to <h3>: a note sits under the email's own <h1>.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def note_html(markdown: str) -> Markup:
    """The note as sanitised HTML, safe to place in a template as it is."""
    if not markdown.strip():
        return Markup("")
    tokens = _parser().parse(markdown)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = "h3"
    rendered = _parser().renderer.render(tokens, _parser().options, {})
    cleaned = nh3.clean(
        rendered,
        tags=_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return Markup(cleaned)  # sanitised by nh3 just above


def note_text(markdown: str) -> str:
    """The note as plain text wrapped at 72 columns: links as "text (URL)", lists with "-" or
    their numbers, quotes with "> ", emphasis marks dropped."""
    if not markdown.strip():
        return ""
    blocks: list[tuple[str, bool]] = []  # (text, inside a list: joined to the next by one newline)
    prefixes: list[str] = []  # "> " per open quote
    lists: list[int | None] = []  # the next number of each open ordered list, None: bullets
    item_mark: str | None = None
    for token in _parser().parse(markdown):
        if token.type == "blockquote_open":
            prefixes.append("> ")
        elif token.type == "blockquote_close":
            prefixes.pop()
        elif token.type == "bullet_list_open":
            lists.append(None)
        elif token.type == "ordered_list_open":
            lists.append(int(token.attrGet("start") or 1))
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            number = lists[-1]
            item_mark = "- " if number is None else f"{number}. "
            if number is not None:
                lists[-1] = number + 1
        elif token.type == "inline":
            text = _block(_inline_text(token), "".join(prefixes), item_mark, len(lists))
            blocks.append((text, bool(lists)))
            item_mark = None
        elif token.type in ("fence", "code_block"):
            code = token.content.rstrip("\n")
            lines = ("".join(prefixes) + "    " + line for line in code.split("\n"))
            blocks.append(("\n".join(lines), bool(lists)))
    written = ""
    for index, (text, in_list) in enumerate(blocks):
        if index:
            written += "\n" if in_list and blocks[index - 1][1] else "\n\n"
        written += text
    return written


def _block(text: str, prefix: str, item_mark: str | None, depth: int) -> str:
    indent = "  " * max(depth - 1, 0)
    first = prefix + indent + (item_mark or ("  " if depth else ""))
    rest = prefix + indent + ("  " if depth else "")
    lines = text.split("\n")  # hard breaks
    wrapped = [
        textwrap.fill(
            line,
            width=_WIDTH,
            initial_indent=first if index == 0 else rest,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for index, line in enumerate(lines)
    ]
    return "\n".join(wrapped)


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    links: list[str] = []  # hrefs of the open links
    link_start: list[int] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
        elif child.type == "link_open":
            links.append(str(child.attrGet("href") or ""))
            link_start.append(len(parts))
        elif child.type == "link_close":
            href, start = links.pop(), link_start.pop()
            label = "".join(parts[start:])
            if href and href != label:
                parts.append(f" ({href})")
    return "".join(parts)
