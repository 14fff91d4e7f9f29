"""The email renderer: one MJML compile per digest variant, then a cheap step per subscriber.

`EmailRenderer.compile` renders the MJML and text templates once, with a placeholder wherever a
subscriber's own value goes (their name, links, the companies they follow), and compiles the MJML
once. Both outputs are then cut into literal chunks and slots, so `CompiledEmail.personalise` is
a join: no Jinja, no MJML, per subscriber.

The placeholders carry a random token made fresh for each compile, and the compile refuses a token
that already occurs in the digest's text, so untrusted content can never forge a slot.

With tracked links (`compile(…, links=…)`, engagement/tokens.py), each link the templates write
through `link(url, name)` goes to `/r/{token}` instead, and an open pixel closes the HTML when
`links.pixel_url` is set. The tokens are the same for every reader of a variant, so they are
compiled into the literals; per-subscriber tracking adds one slot, `reader`, to each of them.
"""

from __future__ import annotations

import html
import re
import secrets
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, fields
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

import jinja2
import mjml

from digest.links import archive_url
from digest.models import Digest, EmailFormat
from digest.render.headers import header_text
from digest.render.links import Campaign, LinkWriter
from digest.render.markdown import note_html, note_text
from digest.render.templates import date_range
from digest.settings import CampaignSettings, SiteSettings

if TYPE_CHECKING:  # render only calls it: the engagement package imports the store
    from digest.engagement.tokens import TrackedLinks

# Gmail clips an HTML part over about 102 KB; warn a little before it.
GMAIL_CLIP_BYTES = 102_000
WARN_HTML_BYTES = 100_000
# Only web-safe font stacks: an empty mapping stops MRML adding a Google Fonts <link>.
_NO_WEB_FONTS: dict[str, str] = {}
_PREHEADER_CHARS = 140
_TEXT_WIDTH = 72


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str  # as the To: header addresses them
    format: EmailFormat  # "html" | "text"
    followed: tuple[str, ...]  # names of the companies they follow (may be empty)
    preferences_url: str
    unsubscribe_url: str
    archive_url: str  # "view in browser"
    given_name: str = ""  # what the greeting calls them; empty: a neutral greeting
    unsubscribe_mailto: str | None = None  # the List-Unsubscribe mailto, when one is read
    reader: str = ""  # their reader token, in each tracked link (tracking.per_subscriber)


@dataclass(frozen=True, slots=True)
class EmailParts:
    subject: str
    text: str
    html: str | None  # None for text-only recipients


@dataclass(frozen=True, slots=True)
class Slots:
    """The placeholders the templates see as `slot.name`, `slot.archive_url`, …

    Each value is `__<token>_<field>__`: letters, digits and underscores only, so HTML escaping
    and MJML compilation leave it as it is, in text and in href attributes alike.
    """

    name: str  # the greeting's: their given name, or "there" ("Hi there,") when not known
    archive_url: str
    preferences_url: str
    unsubscribe_url: str
    followed: str  # the whole "You follow: …" sentence, neutral when they follow nobody
    reader: str  # the reader token of per-subscriber tracked links

    @classmethod
    def with_token(cls, token: str) -> Slots:
        return cls(**{f.name: f"__{token}_{f.name}__" for f in fields(cls)})

    @staticmethod
    def pattern(token: str) -> re.Pattern[str]:
        names = "|".join(f.name for f in fields(Slots))
        return re.compile(rf"__{re.escape(token)}_({names})__")


@dataclass(frozen=True, slots=True)
class SlotTemplate:
    """Rendered output cut once into literals and slot names: literals[0] slot[0] literals[1] …"""

    literals: tuple[str, ...]
    slots: tuple[str, ...]

    @classmethod
    def split(cls, rendered: str, pattern: re.Pattern[str]) -> SlotTemplate:
        # re.split with one group alternates literal, slot name, literal, …
        pieces = pattern.split(rendered)
        return cls(literals=tuple(pieces[0::2]), slots=tuple(pieces[1::2]))

    def fill(self, values: Mapping[str, str]) -> str:
        chunks = [self.literals[0]]
        for slot, literal in zip(self.slots, self.literals[1:], strict=True):
            chunks.append(values[slot])
            chunks.append(literal)
        return "".join(chunks)


@dataclass(frozen=True, slots=True)
class CompiledEmail:
    """One digest variant, compiled: personalise it for each recipient."""

    digest_key: str
    subject: str
    html_size: int  # bytes of the compiled HTML (UTF-8), placeholders included
    warnings: tuple[str, ...]
    html_template: SlotTemplate
    text_template: SlotTemplate
    site_name: str

    def personalise(self, recipient: Recipient) -> EmailParts:
        values = recipient_values(recipient, site_name=self.site_name)
        text_values = {**values, "followed": _wrap(values["followed"])}
        text = self.text_template.fill(text_values)
        if recipient.format == "text":
            return EmailParts(subject=self.subject, text=text, html=None)
        html_values = {slot: html.escape(value, quote=True) for slot, value in values.items()}
        return EmailParts(
            subject=self.subject, text=text, html=self.html_template.fill(html_values)
        )


def compile_mjml(source: str) -> str:
    """MJML to HTML with web-safe fonts only (MSO conditional comments kept for Outlook)."""
    return mjml.mjml2html(source, disable_comments=True, fonts=_NO_WEB_FONTS)


class EmailRenderer:
    def __init__(
        self,
        env: jinja2.Environment,
        site: SiteSettings,
        campaign: CampaignSettings | None = None,
    ) -> None:
        self.env = env
        self.site = site
        self.campaign = campaign or CampaignSettings()  # off unless settings turn it on

    def compile(
        self, digest: Digest, *, public: bool = False, links: TrackedLinks | None = None
    ) -> CompiledEmail:
        """`public`: the web version (archive, previews), whose footer offers a subscription
        instead of links to one reader's preferences. `links`: the digest's links go through
        the tracked redirect (never for the web version: nobody's clicks there are a send's)."""
        token = _fresh_token(digest, self.site)
        slot = Slots.with_token(token)
        if links is not None and links.per_subscriber:
            links = links.for_reader(slot.reader)
        context = self.context(digest, slot, public=public, links=None if public else links)
        source = self.env.get_template(f"email/{digest.kind.value}.mjml.j2").render(context)
        compiled_html = compile_mjml(source)
        text = self.env.get_template(f"text/{digest.kind.value}.txt.j2").render(context)
        pattern = Slots.pattern(token)
        html_template = SlotTemplate.split(compiled_html, pattern)
        text_template = SlotTemplate.split(text, pattern)
        html_size = len(compiled_html.encode("utf-8"))
        return CompiledEmail(
            digest_key=digest.key,
            subject=context["subject"],
            html_size=html_size,
            warnings=_warnings(html_size, html_template, text_template),
            html_template=html_template,
            text_template=text_template,
            site_name=self.site.name,
        )

    def web_version(self, digest: Digest, *, archive_link: str | None = None) -> EmailParts:
        """The digest with no personal data, as the public archive and previews show it: a
        generic greeting, and a footer that offers a subscription (`archive_link` overrides the
        default archive URL the remaining links use)."""
        link = archive_link or archive_url(self.site, digest.key)
        anyone = Recipient(
            email="",
            name="",
            format="html",
            followed=(),
            preferences_url=link,
            unsubscribe_url=link,
            archive_url=link,
        )
        return self.compile(digest, public=True).personalise(anyone)

    def preview_html(self, digest: Digest, *, archive_link: str | None = None) -> str:
        html = self.web_version(digest, archive_link=archive_link).html
        assert html is not None  # the web version is always HTML
        return html

    def context(
        self,
        digest: Digest,
        slot: Slots,
        *,
        public: bool = False,
        links: TrackedLinks | None = None,
    ) -> dict[str, Any]:
        """What every email template sees; overriding templates may rely on all of it."""
        days = date_range(digest.window_start, digest.window_end, self.site.zone)
        # What the email's links become: the web version (archive, previews) is no email, so
        # its links carry no email campaign.
        campaign = None if public else Campaign.for_email(self.campaign, digest.key)
        return {
            "digest": digest,
            # Tagged with the email's campaign, then through the tracked redirect if tracked.
            "links": LinkWriter(campaign, tracked=None if public else links),
            "site": self.site,
            "slot": slot,
            "public": public,
            "subscribe_url": f"{self.site.base_url.rstrip('/')}/subscribe",
            "date_range": days,
            "subject": subject_line(digest, days),
            "preheader": preheader(digest),
            # The editor's note (Markdown): sanitised HTML, and its plain-text form.
            "note_html": note_html(digest.note),
            "note_text": note_text(digest.note),
            "sender_address": parseaddr(self.site.from_address)[1],
            "pixel_url": links.pixel() if links is not None and links.opens else None,
        }


def subject_line(digest: Digest, days: str) -> str:
    """The editor's subject if they wrote one, else the title and the dates."""
    return _one_line(digest.subject or f"{digest.title} \N{MIDDLE DOT} {days}")


def preheader(digest: Digest) -> str:
    """The inbox preview line: the editor's, or as many top headlines as fit; one line."""
    if digest.preheader and _one_line(digest.preheader):
        return _one_line(digest.preheader)
    titles = [title for title in (_one_line(entry.item.title) for entry in digest.entries) if title]
    if not titles:
        return _one_line(digest.title)
    line = titles[0]
    for title in titles[1:3]:
        longer = f"{line} \N{MIDDLE DOT} {title}"
        if len(longer) > _PREHEADER_CHARS:
            break
        line = longer
    return textwrap.shorten(line, width=_PREHEADER_CHARS, placeholder="\N{HORIZONTAL ELLIPSIS}")


def recipient_values(recipient: Recipient, *, site_name: str) -> dict[str, str]:
    """The raw (unescaped) value of every slot for one recipient."""
    followed = [name for name in (_one_line(name) for name in recipient.followed) if name]
    sentence = (
        f"You follow: {', '.join(followed)}."
        if followed
        else f"You receive this digest as a subscriber of {site_name}."
    )
    return {
        "name": _one_line(recipient.given_name) or "there",
        "archive_url": recipient.archive_url.strip(),
        "preferences_url": recipient.preferences_url.strip(),
        "unsubscribe_url": recipient.unsubscribe_url.strip(),
        "followed": sentence,
        "reader": recipient.reader,
    }


def _fresh_token(digest: Digest, site: SiteSettings) -> str:
    # 128 random bits cannot be guessed, but check anyway: a slot must never come from content.
    seen = repr((digest, site))
    while True:
        token = secrets.token_hex(16)
        if token not in seen:
            return token


def _warnings(html_size: int, html: SlotTemplate, text: SlotTemplate) -> tuple[str, ...]:
    found: list[str] = []
    if html_size > WARN_HTML_BYTES:
        found.append(
            f"HTML part is {round(html_size / 1000)} KB; "
            f"Gmail clips messages over {GMAIL_CLIP_BYTES // 1000} KB"
        )
    # An overriding template could drop the link that bulk-sender rules require in the body.
    for part, template in (("HTML", html), ("text", text)):
        if "unsubscribe_url" not in template.slots:
            found.append(f"{part} part has no unsubscribe link in its body")
    return tuple(found)


def _one_line(value: str) -> str:
    """Control characters and line breaks (CR, LF, U+2028…) out, whitespace runs one space:
    the same cleaning as every header's (`headers.header_text`)."""
    return header_text(value)


def _wrap(value: str) -> str:
    return textwrap.fill(value, width=_TEXT_WIDTH, break_long_words=False, break_on_hyphens=False)
