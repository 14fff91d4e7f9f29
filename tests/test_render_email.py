"""The email renderer: golden output, escaping, one MJML compile per digest, cheap personalising.

Golden files under tests/golden/ are compared byte for byte. After an intended change to a
template, rewrite them with

    DIGEST_UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/test_render_email.py

and read the diff before committing it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import mjml
import pytest
from digests_for_tests import (
    HOSTILE_TITLE,
    MISTRAL_SWEDEN,
    SITE,
    company_digest,
    ten_entry_weekly,
    weekly_digest,
)

from digest.engagement.tokens import LinkSigner, TrackedLinks
from digest.models import Digest, Section
from digest.render import email as email_module
from digest.render.email import (
    CompiledEmail,
    EmailParts,
    EmailRenderer,
    Recipient,
    Slots,
    SlotTemplate,
    archive_url,
)
from digest.render.notice import notice_parts
from digest.render.templates import date_range, dots, http_url, template_environment
from digest.settings import SiteSettings, TrackingSettings

GOLDEN = Path(__file__).parent / "golden"
SENT = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
TOKEN_LIKE = re.compile(r"__[0-9a-f]{32}_")

ANA = Recipient(
    email="ana@example.com",
    name="Ana Łukasiewicz",
    given_name="Ana",
    format="html",
    followed=("Mistral AI", "DeepSeek"),
    preferences_url="https://news.example.org/preferences?token=ana-prefs&lang=en",
    unsubscribe_url="https://news.example.org/unsubscribe?token=ana-unsub",
    archive_url="https://news.example.org/archive/weekly:2026-W48?r=ana",
)


@pytest.fixture
def renderer() -> EmailRenderer:
    return EmailRenderer(template_environment(), SITE)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, f"{name} differs; DIGEST_UPDATE_GOLDEN=1 rewrites it"


@pytest.mark.parametrize(
    ("name", "build"), [("weekly", weekly_digest), ("company", company_digest)]
)
def test_output_matches_golden_files(renderer: EmailRenderer, name: str, build: Any) -> None:
    parts = renderer.compile(build()).personalise(ANA)
    assert parts.html is not None
    check_golden(f"{name}.html", parts.html)
    check_golden(f"{name}.txt", parts.text)


# Untrusted text


def test_hostile_title_is_escaped_and_never_evaluated(renderer: EmailRenderer) -> None:
    parts = renderer.compile(weekly_digest()).personalise(ANA)
    assert parts.html is not None
    assert "<script>" not in parts.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in parts.html
    assert "<b>markup</b>" not in parts.html
    # Template syntax in data comes out as typed: nothing rendered it.
    assert "{{ 7*7 }}" in parts.html and "{{ 7*7 }}" in parts.text
    assert "{% if true %}a tag{% endif %}" in parts.text
    assert " 49 " not in parts.html + parts.text
    # The plain-text part is not HTML: the title reads as written.
    assert HOSTILE_TITLE in parts.text


def test_unsafe_links_and_images_are_not_emitted(renderer: EmailRenderer) -> None:
    parts = renderer.compile(weekly_digest()).personalise(ANA)
    assert parts.html is not None
    assert "javascript:" not in parts.html and "data:image" not in parts.html
    assert "javascript:" not in parts.text


def test_recipient_values_are_escaped_in_html_and_raw_in_text(renderer: EmailRenderer) -> None:
    hostile = dataclasses.replace(
        ANA,
        given_name='<b>Bo</b> & "Cy"\r\nBcc: x',
        followed=("<i>Evil</i> Corp",),
        unsubscribe_url='https://news.example.org/u?a=1&b="2"',
    )
    parts = renderer.compile(weekly_digest()).personalise(hostile)
    assert parts.html is not None
    assert "Hi &lt;b&gt;Bo&lt;/b&gt; &amp; &quot;Cy&quot; Bcc: x," in parts.html
    assert "You follow: &lt;i&gt;Evil&lt;/i&gt; Corp." in parts.html
    assert 'href="https://news.example.org/u?a=1&amp;b=&quot;2&quot;"' in parts.html
    assert '<b>Bo</b> & "Cy" Bcc: x,' in parts.text
    assert 'https://news.example.org/u?a=1&b="2"\n' in parts.text


# Compile once, personalise cheaply


def test_personalising_fifty_recipients_compiles_mjml_once(
    renderer: EmailRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    renders: list[str] = []
    real_compile, real_render = mjml.mjml2html, jinja2.Template.render

    def counting_compile(source: str, **options: Any) -> str:
        calls.append(source)
        return real_compile(source, **options)

    def counting_render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        renders.append(self.name or "")
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(mjml, "mjml2html", counting_compile)
    monkeypatch.setattr(jinja2.Template, "render", counting_render)
    compiled = renderer.compile(weekly_digest())
    recipients = [
        dataclasses.replace(ANA, email=f"r{n}@example.com", given_name=f"Reader {n}")
        for n in range(50)
    ]
    emails = [compiled.personalise(recipient) for recipient in recipients]
    assert len(calls) == 1
    assert renders == ["email/weekly.mjml.j2", "text/weekly.txt.j2"]
    assert all(f"Hi Reader {n}," in (parts.html or "") for n, parts in enumerate(emails))


def tracked(digest: Digest, **tracking: Any) -> TrackedLinks:
    settings = TrackingSettings(weekly=True, company=True, **tracking)
    return TrackedLinks.for_digest(SITE, settings, digest.key, now=SENT)


def test_placeholders_survive_mjml_in_text_and_href(renderer: EmailRenderer) -> None:
    digest = company_digest()
    compiled = renderer.compile(digest, links=tracked(digest, per_subscriber=True))
    every_slot = {field.name for field in dataclasses.fields(Slots)}
    assert set(compiled.html_template.slots) == every_slot
    assert set(compiled.text_template.slots) == every_slot
    parts = compiled.personalise(ANA)
    assert parts.html is not None
    for url in (ANA.preferences_url, ANA.unsubscribe_url, ANA.archive_url):
        assert f'href="{url.replace("&", "&amp;")}"' in parts.html
        assert f"\n{url}\n" in parts.text
    assert ">Hi Ana,<" in parts.html
    assert not TOKEN_LIKE.search(parts.html) and not TOKEN_LIKE.search(parts.text)


def test_each_compile_has_a_fresh_token(
    renderer: EmailRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources: list[str] = []
    real_compile = mjml.mjml2html

    def recording_compile(source: str, **options: Any) -> str:
        sources.append(source)
        return real_compile(source, **options)

    monkeypatch.setattr(mjml, "mjml2html", recording_compile)
    renderer.compile(weekly_digest())
    renderer.compile(weekly_digest())
    tokens = [set(re.findall(r"__([0-9a-f]{32})_[a-z_]+__", source)) for source in sources]
    assert all(len(found) == 1 for found in tokens)
    assert tokens[0] != tokens[1]


def test_content_cannot_forge_a_slot(
    renderer: EmailRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    guessed = "0" * 32
    forged = f"__{guessed}_unsubscribe_url__"
    item = dataclasses.replace(MISTRAL_SWEDEN, title=f"Click {forged}")
    digest = weekly_digest()
    digest = dataclasses.replace(
        digest,
        sections=(
            dataclasses.replace(
                digest.sections[0],
                entries=(dataclasses.replace(digest.sections[0].entries[0], item=item),),
            ),
        ),
    )
    # Even a token that content happens to contain is refused for a fresh one.
    tokens = iter([guessed, "f" * 32])
    monkeypatch.setattr(email_module.secrets, "token_hex", lambda _bytes: next(tokens))
    compiled = renderer.compile(digest)
    parts = compiled.personalise(ANA)
    assert parts.html is not None
    assert f"Click {forged}" in parts.html and f"Click {forged}" in parts.text
    assert compiled.html_template.slots.count("unsubscribe_url") == 1


def test_slot_template_is_a_join_of_literals_and_values() -> None:
    pattern = Slots.pattern("ab" * 16)
    slots = Slots.with_token("ab" * 16)
    template = SlotTemplate.split(f"Hi {slots.name}, {slots.name}!", pattern)
    assert template.literals == ("Hi ", ", ", "!")
    assert template.slots == ("name", "name")
    assert template.fill({"name": "Ana"}) == "Hi Ana, Ana!"


def test_text_only_recipient_gets_no_html(renderer: EmailRenderer) -> None:
    parts = renderer.compile(weekly_digest()).personalise(dataclasses.replace(ANA, format="text"))
    assert parts.html is None
    assert "Hi Ana," in parts.text


def test_followed_line_is_neutral_when_following_nobody(renderer: EmailRenderer) -> None:
    parts = renderer.compile(weekly_digest()).personalise(dataclasses.replace(ANA, followed=()))
    assert parts.html is not None
    assert "You follow" not in parts.html + parts.text
    assert "You receive this digest as a subscriber of AMW Weekly." in parts.html
    assert "You receive this digest as a subscriber of AMW Weekly." in parts.text


def test_preview_has_no_personal_data(renderer: EmailRenderer) -> None:
    digest = weekly_digest()
    html = renderer.preview_html(digest)
    assert "Hi there," in html
    assert "Łukasiewicz" not in html and "token=" not in html and "You follow" not in html
    # The web version offers a subscription instead of one reader's links.
    link = archive_url(SITE, digest.key)
    assert f'href="{link}"' not in html
    assert "Manage your preferences" not in html and "Unsubscribe" not in html
    assert 'href="https://news.example.org/subscribe"' in html
    text = renderer.web_version(digest).text
    assert "Unsubscribe" not in text and "https://news.example.org/subscribe" in text


# What the email shows and how


def test_email_shape(renderer: EmailRenderer) -> None:
    compiled = renderer.compile(weekly_digest())
    html = compiled.personalise(ANA).html
    assert html is not None
    assert '<html lang="en"' in html
    assert "fonts.googleapis" not in html and "@import" not in html
    assert "font-family:-apple-system, Segoe UI, Helvetica, Arial, sans-serif" in html
    assert "Georgia" in html
    # The preheader: plain text, the top headlines.
    assert re.search(r'<div style="display:none;[^"]*">Mistral AI is investing', html)
    # A two-column section (image | headline) that stacks below 480 px.
    assert "mj-column-per-40" in html and "mj-column-per-60" in html
    assert "min-width:480px" in html
    images = re.findall(r"<img [^>]*>", html)
    assert images and all(re.search(r'alt="[^"]+"', image) for image in images)
    assert 'alt="Mistral AI is investing 1.2 billion euros in Swedish data centers"' in html
    assert "Novelty" in html and "●●●●○</span> <strong" in html and "4/5" in html
    assert "#MistralAI #AIInfrastructure #DigitalSovereignty" in html
    assert "cross.§A</strong> infrastructure" in html
    assert "Expansion · Mistral AI · 🌍🇸🇪 · 1 min read" in html
    assert "23–29 November 2026" in html
    assert compiled.subject == "The AMW Weekly · 23–29 November 2026"


def test_company_email_shows_card_and_connections(renderer: EmailRenderer) -> None:
    parts = renderer.compile(company_digest()).personalise(ANA)
    assert parts.html is not None
    assert "<strong>Mistral AI</strong> 🇫🇷" in parts.html
    assert "Foundation Models / LLMs" in parts.html
    assert 'href="https://news.example.org/companies/mistral-ai"' in parts.html
    assert "How This Connects" in parts.html
    assert "Based on Foundation Models · Case Studies" in parts.html
    assert '1d ago</span> &middot; <a href="https://news.example.org/news/deepseek-price"' in (
        parts.html
    )
    assert "HOW THIS CONNECTS" in parts.text
    assert "- 1d ago · DeepSeek cuts V4-Pro API price" in parts.text


def test_unsubscribe_and_preferences_are_visible_in_both_parts(renderer: EmailRenderer) -> None:
    parts = renderer.compile(weekly_digest()).personalise(ANA)
    assert parts.html is not None
    assert ">Unsubscribe</a>" in parts.html and ">Manage your preferences</a>" in parts.html
    assert "Unsubscribe:\nhttps://" in parts.text
    assert "Manage your preferences:\nhttps://" in parts.text
    assert "weekly.news.example.org" in parts.html and "weekly.news.example.org" in parts.text


def parts_of(kind: str, site: SiteSettings = SITE) -> EmailParts:
    """Each kind of email there is, as its reader gets it."""
    env = template_environment()
    if kind in NOTICES:
        return notice_parts(
            env,
            site,
            kind,  # type: ignore[arg-type]
            email="ana@example.com",
            given_name="Ana",
            link_url=f"https://news.example.org/{kind}/t",
            unsubscribe_url="https://news.example.org/unsubscribe/t",
            email_format="html",
        )
    digest = weekly_digest() if kind == "weekly" else company_digest()
    return EmailRenderer(env, site).compile(digest).personalise(ANA)


NOTICES = ["confirm", "data", "delete"]  # a confirmation, private links
KINDS = ["weekly", "company", *NOTICES]


@pytest.mark.parametrize("kind", KINDS)
def test_the_preheader_is_hidden_without_text_coloured_like_its_background(kind: str) -> None:
    """Spam filters score text coloured like its background as hidden text (SpamAssassin's
    HTML_FONT_LOW_CONTRAST): the preheader is hidden by display and size only."""
    html = parts_of(kind).html
    assert html is not None
    (style,) = re.findall(r'<div style="(display:none;[^"]*)">', html)
    assert "mso-hide:all" in style and "max-height:0" in style and "opacity:0" in style
    assert "color" not in style
    body = html.split("<body", 1)[1]
    assert body.index(style) < body.index("<table")  # the first text in the body


@pytest.mark.parametrize("kind", KINDS)
def test_every_email_footer_carries_the_postal_address(kind: str) -> None:
    parts = parts_of(kind)
    assert SITE.postal_address is not None and parts.html is not None
    footer = parts.html.rsplit("Sent by", 1)[0][-300:]
    assert f"<br />{SITE.postal_address}<br />" in footer
    assert f"\n{SITE.postal_address}\nSent by " in parts.text
    without = parts_of(kind, dataclasses.replace(SITE, postal_address=None))
    assert "rue du Sentier" not in without.text and "rue du Sentier" not in (without.html or "")


@pytest.mark.parametrize("kind", NOTICES)
def test_a_notice_says_how_long_its_link_works_and_keeps_it_on_its_own_line(kind: str) -> None:
    parts = parts_of(kind)
    lifetime = "7 days" if kind == "confirm" else "30 minutes"
    assert f"The link works for {lifetime}" in " ".join(parts.text.split())
    assert f"\nhttps://news.example.org/{kind}/t\n" in parts.text
    assert parts.html is not None and f'href="https://news.example.org/{kind}/t"' in parts.html
    assert all(len(line) <= 74 for line in parts.text.splitlines() if "https://" not in line)


def test_text_part_wraps_and_keeps_urls_on_their_own_lines(renderer: EmailRenderer) -> None:
    text = renderer.compile(company_digest()).personalise(ANA).text
    for line in text.splitlines():
        if "https://" in line:
            assert line.strip().startswith("https://"), line
        else:
            assert len(line) <= 74, line


def test_ten_entry_weekly_is_well_under_gmail_clipping(renderer: EmailRenderer) -> None:
    compiled = renderer.compile(ten_entry_weekly())
    assert compiled.html_size < 70_000
    assert compiled.warnings == ()


def test_oversized_html_warns(renderer: EmailRenderer) -> None:
    digest = ten_entry_weekly()
    entries = digest.entries * 3
    big = dataclasses.replace(
        digest, sections=(dataclasses.replace(digest.sections[0], entries=entries),)
    )
    compiled = renderer.compile(big)
    assert compiled.html_size > 100_000
    (warning,) = compiled.warnings
    assert re.fullmatch(r"HTML part is \d+ KB; Gmail clips messages over 102 KB", warning)


# The environment


def test_override_folder_wins_and_text_is_not_escaped(tmp_path: Path) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "weekly.txt.j2").write_text(
        "{{ digest.entries[2].item.title }} {{ slot.name }}\n", encoding="utf-8"
    )
    renderer = EmailRenderer(template_environment(tmp_path), SITE)
    compiled = renderer.compile(weekly_digest())
    assert compiled.personalise(ANA).text == f"{HOSTILE_TITLE} Ana\n"
    # The override dropped the unsubscribe link the bulk-sender rules require: say so.
    assert compiled.warnings == ("text part has no unsubscribe link in its body",)


def test_environment_settings() -> None:
    env = template_environment()
    assert isinstance(env.undefined, type) and issubclass(env.undefined, jinja2.StrictUndefined)
    assert env.autoescape("email/weekly.mjml.j2") is True  # type: ignore[operator]
    assert env.autoescape("web/page.html.j2") is True  # type: ignore[operator]
    assert env.autoescape("text/weekly.txt.j2") is False  # type: ignore[operator]
    assert env.keep_trailing_newline and env.auto_reload


def test_dots_clamp_and_read_as_five() -> None:
    assert dots(4) == "●●●●○"
    assert dots(0) == "○○○○○"
    assert dots(9) == "●●●●●"
    assert dots(-2) == "○○○○○"


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("2026-11-23", "2026-11-30", "23–29 November 2026"),
        ("2026-11-30", "2026-12-07", "30 November – 6 December 2026"),
        ("2026-12-28", "2027-01-04", "28 December 2026 – 3 January 2027"),
        ("2026-11-23", "2026-11-24", "23 November 2026"),
    ],
)
def test_date_range_in_words(start: str, end: str, words: str) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    begin = datetime.fromisoformat(start).replace(tzinfo=paris)
    finish = datetime.fromisoformat(end).replace(tzinfo=paris)
    assert date_range(begin, finish) == words
    # The same window seen from UTC still reads in the site's days.
    assert date_range(begin.astimezone(ZoneInfo("UTC")), finish, paris) == words


def test_http_url_only_lets_web_links_through() -> None:
    assert http_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert http_url("javascript:alert(1)") == "#"
    assert http_url("data:text/html,hi") == "#"
    assert http_url("//example.org") == "#"
    assert http_url(None) == "#"


def test_compiled_email_is_a_plain_value(renderer: EmailRenderer) -> None:
    # Workers may receive it pickled: it holds only strings and tuples.
    import pickle

    compiled = renderer.compile(weekly_digest())
    copy = pickle.loads(pickle.dumps(compiled))
    assert isinstance(copy, CompiledEmail)
    assert copy.personalise(ANA) == compiled.personalise(ANA)
    assert compiled.digest_key == "weekly:2026-W48"


def _digest_with_no_entries() -> Digest:
    return dataclasses.replace(weekly_digest(), sections=())


def test_empty_digest_still_renders(renderer: EmailRenderer) -> None:
    # Never sent (planning leaves it out, `digest build` writes nothing), but an editor's
    # preview of an empty week still renders, and reads as English.
    parts = renderer.compile(_digest_with_no_entries()).personalise(ANA)
    assert parts.html is not None and "No news this week." in parts.html
    assert "The 0" not in parts.text


def _with_marks(digest: Digest, followed: int) -> Digest:
    """The digest with its last `followed` entries brought in by following NVIDIA."""
    marked = len(digest.entries) - followed
    sections, seen = [], 0
    for section in digest.sections:
        entries = []
        for entry in section.entries:
            mark = ("NVIDIA",) if seen >= marked else ()
            entries.append(dataclasses.replace(entry, followed=mark))
            seen += 1
        sections.append(dataclasses.replace(section, entries=tuple(entries)))
    return dataclasses.replace(digest, sections=tuple(sections))


def _first(digest: Digest, count: int) -> Digest:
    entries = digest.entries[:count]
    return dataclasses.replace(digest, sections=(Section("Chips", entries),) if entries else ())


MANY = ", grouped by topic, each with its AMW Read."
FOLLOWED = "about the companies you follow"
INTROS = [
    # (entries, of them followed, intro)
    (1, 0, "The most significant item of the week, with its AMW Read."),
    (3, 0, f"The 3 most significant items of the week{MANY}"),
    (1, 1, f"This week's item {FOLLOWED}, with its AMW Read."),
    (2, 2, f"This week's 2 items {FOLLOWED}{MANY}"),
    (2, 1, f"The most significant item of the week, and 1 more {FOLLOWED}{MANY}"),
    (4, 2, f"The 2 most significant items of the week, and 2 more {FOLLOWED}{MANY}"),
]


@pytest.mark.parametrize(("count", "followed", "intro"), INTROS)
def test_the_weekly_intro_reads_naturally_for_one_and_many(
    renderer: EmailRenderer, count: int, followed: int, intro: str
) -> None:
    digest = _with_marks(_first(weekly_digest(), count), followed)
    parts = renderer.compile(digest).personalise(ANA)
    assert parts.html is not None
    assert intro in parts.html.replace("&#39;", "'")
    assert " ".join(parts.text.split()).count(intro) == 1


def test_an_entry_brought_in_by_a_followed_company_says_so(renderer: EmailRenderer) -> None:
    digest = _with_marks(_first(weekly_digest(), 2), 1)
    parts = renderer.compile(digest).personalise(ANA)
    assert parts.html is not None
    assert parts.html.count("Because you follow NVIDIA") == 1
    assert parts.text.count("BECAUSE YOU FOLLOW NVIDIA") == 1
    # The mark heads its entry's title.
    marked = digest.entries[1].item.title
    text = parts.text
    assert text.index("BECAUSE YOU FOLLOW NVIDIA") < text.index(marked)


def test_a_file_added_to_the_override_folder_replaces_a_cached_packaged_one(
    tmp_path: Path,
) -> None:
    env = template_environment(tmp_path)
    packaged = env.get_template("social/item.txt.j2")
    assert packaged.filename is not None and not packaged.filename.startswith(str(tmp_path))
    (tmp_path / "social").mkdir()
    (tmp_path / "social" / "item.txt.j2").write_text("override {{ url }}")
    overridden = env.get_template("social/item.txt.j2")
    assert overridden.filename == str(tmp_path / "social" / "item.txt.j2")
    assert overridden.render(url="https://example.com/") == "override https://example.com/"


# Tracked links --------------------------------------------------------------------------------

TRACKED = re.compile(r"https://news\.example\.org/r/([A-Za-z0-9_.-]+)(?:/([A-Za-z0-9_.-]+))?")


def tracked_targets(text: str) -> dict[str, str]:
    """{link name: target} of every tracked link in `text` (each checked genuine)."""
    signer = LinkSigner.for_site(SITE)
    found = {}
    for token, _ in TRACKED.findall(text):
        link = signer.read_link(token)
        assert link is not None, token
        found[link.name] = link.target
    return found


def test_tracked_links_go_through_the_redirect_to_their_own_targets(
    renderer: EmailRenderer,
) -> None:
    """Headline (and its image), connections, company profile: in the HTML and the text part."""
    digest = company_digest()
    parts = renderer.compile(digest, links=tracked(digest)).personalise(ANA)
    assert parts.html is not None
    entry = digest.entries[0]
    company = digest.company
    assert company is not None and entry.connections and entry.item.image_url
    expected = {
        f"item:{entry.item.id}": entry.item.url,
        f"profile:{company.slug}": company.profile_url,
        **{
            f"connection:{c.item.id}": c.item.url
            for c in entry.connections
            if http_url(c.item.url) != "#" and not c.is_entry  # the entry itself: not linked
        },
    }
    assert len(expected) > 3  # the headline, the profile and connections
    for part in (parts.html, parts.text):
        targets = tracked_targets(part)
        assert {name: targets.get(name) for name in expected} == expected
        for url in expected.values():  # no link goes straight to its target any more
            assert f'href="{url}"' not in part and f"\n{url}\n" not in part
        assert "javascript:" not in "".join(targets.values())  # inert links stay inert
    # The image links like the headline: one token, two hrefs.
    assert len(set(TRACKED.findall(parts.html))) < parts.html.count(
        'href="https://news.example.org/r/'
    )
    # The reader's own links (preferences, unsubscribe) are never tracked.
    assert f'href="{ANA.unsubscribe_url}"' in parts.html
    assert "/o/" not in parts.html  # no pixel unless tracking.opens


def test_the_web_version_and_untracked_kinds_link_straight_to_the_targets(
    renderer: EmailRenderer,
) -> None:
    digest = weekly_digest()
    for html in (
        renderer.compile(digest).personalise(ANA).html,
        renderer.compile(digest, public=True, links=tracked(digest)).personalise(ANA).html,
    ):
        assert html is not None
        assert "/r/" not in html and "/o/" not in html
        assert f'href="{digest.entries[0].item.url}"' in html


def test_per_subscriber_links_carry_each_readers_token_and_the_pixel(
    renderer: EmailRenderer,
) -> None:
    digest = weekly_digest()
    compiled = renderer.compile(digest, links=tracked(digest, per_subscriber=True, opens=True))
    signer = LinkSigner.for_site(SITE)
    for subscriber_id in ("s0001", "s0002"):
        token = signer.reader_token(digest.key, subscriber_id, int(SENT.timestamp()))
        parts = compiled.personalise(dataclasses.replace(ANA, reader=token))
        assert parts.html is not None
        for part in (parts.html, parts.text):
            readers = {reader for _, reader in TRACKED.findall(part)}
            assert readers == {token}
        reader = signer.read_reader(token, digest.key)
        assert reader is not None and reader.subscriber_id == subscriber_id
        pixel = re.search(
            r'<img src="https://news\.example\.org/o/([^"/]+)/([^"]+)\.gif"', parts.html
        )
        assert pixel is not None and pixel.group(2) == token
        assert "/o/" not in parts.text
