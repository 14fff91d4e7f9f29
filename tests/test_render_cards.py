"""Share cards: PNGs of both sizes for Latin, CJK and Devanagari headlines, every character
drawn by a font that has it (no missing-glyph boxes), long headlines cut within the card, the
same bytes every time, and the paths that name a digest's cards."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from digests_for_tests import MISTRAL, weekly_digest
from PIL import Image

from digest.models import Company, Entry
from digest.render.cards import (
    HEADLINE_LINES,
    HEADLINE_SIZES,
    OPEN_GRAPH,
    POST,
    CardSize,
    card_alt,
    card_path,
    card_position,
    fit_headline,
    font,
    parse_card_path,
    render_card,
    runs,
    wrap,
)
from digest.render.social import SocialPost

MOONSHOT = Company("moonshot-ai", "月之暗面 Moonshot AI", "Foundation Models / LLMs", "CN", "Kimi")
TITLES = {
    "latin": "Mistral AI is investing 1.2 billion euros in Swedish data centers",
    "chinese": "月之暗面发布 Kimi K2 开源智能体模型，性能比肩闭源前沿模型",
    "japanese": "ソフトバンクとOpenAIが日本で合弁会社「SB OpenAI Japan」を設立",
    "korean": "삼성전자, 평택에 HBM 전용 AI 메가팩토리 건설",
    "devanagari": "सर्वम एआई ने हिन्दी भाषा के लिए नया मॉडल जारी किया",
}
LONG = " ".join(["Mistral AI and NVIDIA announce a sovereign European compute expansion"] * 4)


def entry_titled(title: str, *, companies: tuple[Company, ...] = (MISTRAL,)) -> Entry:
    entry = weekly_digest().entries[0]
    return replace(entry, item=replace(entry.item, title=title), companies=companies)


@pytest.mark.parametrize("size", [POST, OPEN_GRAPH], ids=lambda size: size.name)
@pytest.mark.parametrize("script", TITLES)
def test_a_card_is_a_png_of_its_size_for_every_script(script: str, size: CardSize) -> None:
    png = render_card(entry_titled(TITLES[script]), site_name="AMW Weekly", size=size)
    with Image.open(io.BytesIO(png)) as card:
        assert (card.format, card.size) == ("PNG", (size.width, size.height))
    assert len(png) < 200_000  # well under every platform's upload limit (Bluesky's: 1 MB)


def _ink(text: str, script: str) -> bytes:
    return bytes(font(script, 48).getmask(text))


@pytest.mark.parametrize("script", TITLES)
def test_every_character_is_drawn_by_a_font_that_has_it(script: str) -> None:
    text = TITLES[script] + " " + MOONSHOT.name + " 🇸🇪🇨🇳🌍"
    for run_script, run in runs(text):
        missing = _ink("\U0010fffd", run_script)  # a private-use point: the font's .notdef box
        for character in run:
            if not character.isspace() and not 0xFE00 <= ord(character) <= 0xFE0F:
                assert _ink(character, run_script) != missing, (character, run_script)


def test_cjk_breaks_between_characters_and_latin_at_spaces() -> None:
    for line in wrap(TITLES["chinese"], 60, 500):
        assert font("cjk", 60).getlength(line) <= 500
    latin = wrap(TITLES["latin"], 60, 500)
    assert " ".join(latin) == TITLES["latin"]  # no word cut
    word = "Supercalifragilistic-expialidocious-compute"
    hyphenated = wrap(word, 60, 700)
    assert len(hyphenated) > 1 and "".join(hyphenated) == word
    assert all(line.endswith("-") for line in hyphenated[:-1])  # broken at its hyphens


def test_a_long_headline_is_cut_at_a_word_with_an_ellipsis_within_its_lines() -> None:
    size, lines = fit_headline(LONG, 1000, 10_000)
    assert size == HEADLINE_SIZES[-1]
    assert len(lines) == HEADLINE_LINES
    assert lines[-1].endswith("…") and lines[-1][:-1] == lines[-1][:-1].rstrip()
    assert " ".join(lines)[:-1] in LONG
    png = render_card(entry_titled(LONG), site_name="AMW Weekly")
    assert Image.open(io.BytesIO(png)).size == (1200, 675)


def test_a_short_headline_gets_the_largest_size() -> None:
    size, lines = fit_headline("Mistral goes north", 1000, 500)
    assert (size, lines) == (76, ["Mistral goes north"])


def test_the_same_entry_always_gives_the_same_bytes() -> None:
    entry = entry_titled(TITLES["chinese"], companies=(MOONSHOT,))
    assert render_card(entry, site_name="AMW") == render_card(entry, site_name="AMW")
    assert render_card(entry, site_name="AMW") != render_card(entry, site_name="AMW Weekly")


def test_the_alt_text_says_what_the_card_shows() -> None:
    entry = weekly_digest().entries[0]
    assert card_alt(entry) == (
        f"{entry.item.title}. 🌍🇸🇪 Mistral AI. Novelty 4/5, significance 5/5"
    )
    no_read = weekly_digest().entries[3]
    assert "Novelty" not in card_alt(no_read)


def test_a_cards_path_names_its_digest_entry_and_size() -> None:
    path = card_path("company:mistral-ai:2026-W48", 3, OPEN_GRAPH)
    assert path == "cards/company:mistral-ai:2026-W48/3-1200x630.png"
    address = parse_card_path(path)
    assert address is not None
    assert (address.digest_key, address.position, address.size) == (
        "company:mistral-ai:2026-W48",
        3,
        OPEN_GRAPH,
    )
    for wrong in ("cards/k/0-1200x675.png", "cards/k/1-64x64.png", "cards/a/b/1-1200x675.png"):
        assert parse_card_path(wrong) is None


def test_a_post_shows_its_items_card_or_the_digests_top_one() -> None:
    digest = weekly_digest()
    third = digest.entries[2].item
    top = SocialPost(digest.key, "top", "x", "text", "https://news.example.org/a", (), 4, 280)
    assert card_position(digest, replace(top, key=f"item:{third.id}")) == 3
    assert card_position(digest, top) == card_position(digest, replace(top, key="company")) == 1
    assert card_position(digest, replace(top, key="item:no-such-item")) is None
    assert card_position(replace(digest, sections=()), top) is None
    # A thread's later part shows the story whose link it carries (campaign tags or not).
    part = replace(top, key="top:2", reply_to="top", url=f"{third.url}?utm_source=x")
    assert card_position(digest, part) == 3
