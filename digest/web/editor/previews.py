"""What the editor's pages show about a digest, built with the same code as a real send.

Every message shown here comes from `MessageBuilder` (the deliverer's own builder) as RFC 5322
bytes and is parsed back, so the headers, the text part and the HTML part on the page are the
bytes a subscriber would get (only the Date differs: it is the time of the send).
"""

from __future__ import annotations

import email
import email.policy
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2

from digest import outbox
from digest.compose import StaleEdit, receives
from digest.context import Context
from digest.models import Delivery, DeliveryChannel, DeliveryState, Digest, DigestKind
from digest.render.email import GMAIL_CLIP_BYTES, WARN_HTML_BYTES
from digest.render.social import SocialPost
from digest.schedule import jobs
from digest.schedule.messages import MessageBuilder, Skip
from digest.schedule.status import DigestStatus
from digest.web.editor import post_text

PREVIEW_ADDRESS = "reader@example.com"


@dataclass(frozen=True, slots=True)
class Found:
    digest: Digest
    stored: bool  # False: composed now, on the fly, from what the store holds
    stale: tuple[StaleEdit, ...] = ()  # the editors' changes that no longer apply


def find_digest(ctx: Context, key: str) -> Found | None:
    """The stored snapshot of `key`, or else the digest composed now from the store, edited."""
    stored = ctx.store.load_digest(key)
    if stored is not None:
        return Found(stored, True)
    edited = jobs.compose_key(ctx, key)
    return Found(edited.digest, False, edited.stale) if edited is not None else None


@dataclass(frozen=True, slots=True)
class MessageView:
    headers: tuple[tuple[str, str], ...]
    text: str
    html: str | None  # None: a text-only message
    size: int  # bytes of the whole message


@dataclass(frozen=True, slots=True)
class NotSent:
    reason: str


def parse_message(data: bytes) -> MessageView:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    return MessageView(
        headers=tuple((name, str(value)) for name, value in message.items()),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else None,
        size=len(data),
    )


def builder_for(ctx: Context, digest: Digest) -> MessageBuilder:
    """One builder for a request: the page's size, its message and its preview share each
    compile of `digest`."""
    builder = MessageBuilder(ctx)
    builder.use_digest(digest)
    return builder


def message_view(
    builder: MessageBuilder, digest: Digest, subscriber_id: str | None
) -> MessageView | NotSent:
    """The digest as this subscriber would receive it (or why they would not), or, without a
    subscriber, as a reader who takes every topic."""
    ctx = builder.ctx
    now = ctx.clock()
    if subscriber_id is None:
        built = builder.test_message(
            digest, PREVIEW_ADDRESS, key=f"{digest.key}/preview", now=now, subject_prefix=""
        )
        return parse_message(built.data)
    subscriber = ctx.store.subscriber(subscriber_id)  # one query, never the whole audience
    if subscriber is None:
        return NotSent("no subscriber has that id")
    if not receives(subscriber, digest):
        return NotSent(not_in_audience(digest, subscriber.status.value))
    row = Delivery(
        id=0,
        idempotency_key=jobs.email_key(digest.key, subscriber.id),
        digest_key=digest.key,
        channel=DeliveryChannel.EMAIL,
        target=subscriber.id,
        state=DeliveryState.PLANNED,
    )
    result = builder.build(row, now)
    if isinstance(result, Skip):
        return NotSent(f"they would be skipped: {result.reason}")
    return parse_message(result.data)


def not_in_audience(digest: Digest, status: str) -> str:
    if status != "active":
        return f"they are {status}: only active subscribers receive digests"
    if digest.kind is DigestKind.WEEKLY:
        return "they have turned the weekly digest off"
    company = digest.company.name if digest.company else "this company"
    return f"they do not follow {company}"


@dataclass(frozen=True, slots=True)
class SizeView:
    html_bytes: int
    warnings: tuple[str, ...]
    near_clip: bool

    @property
    def kilobytes(self) -> str:
        return f"{self.html_bytes / 1000:.1f}"

    @property
    def clip_kb(self) -> int:
        return GMAIL_CLIP_BYTES // 1000

    @property
    def percent_of_clip(self) -> int:
        return round(100 * self.html_bytes / GMAIL_CLIP_BYTES)


def size_view(builder: MessageBuilder, digest: Digest) -> SizeView:
    compiled = builder.compiled(digest)
    return SizeView(compiled.html_size, compiled.warnings, compiled.html_size > WARN_HTML_BYTES)


@dataclass(frozen=True, slots=True)
class PostView:
    element_id: str
    channel: str
    platform: str
    text: str
    length: int
    limit: int
    warnings: tuple[str, ...]
    at: datetime | None  # its slot, in the channel's time zone; None: at once
    planned: bool  # its row exists: the slot is the one it holds, not the one it would get


def post_views(ctx: Context, digest: Digest) -> dict[str, list[PostView]]:
    """Every configured channel's posts for the digest, by channel, with their slots and what
    to look at."""
    by_channel: dict[str, list[PostView]] = {}
    timed = jobs.post_times(ctx, digest, jobs.compose_posts(ctx, digest))
    for index, each in enumerate(timed):
        post = each.post
        by_channel.setdefault(each.channel, []).append(
            PostView(
                element_id=f"post-{index}",
                channel=each.channel,
                platform=post.platform,
                text=post.text,
                length=post.length,
                limit=post.limit,
                warnings=post_warnings(post),
                at=each.at,
                planned=each.planned,
            )
        )
    return by_channel


def post_warnings(post: SocialPost) -> tuple[str, ...]:
    """What marketing should know before publishing a post by hand."""
    found = post_text.refusals(post, post.length)
    if not post.hashtags and post.reply_to is None:
        found.append("no hashtags: none fitted")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """A template that does not render: where (file and line) and what is wrong."""

    file: str
    line: int | None
    message: str


def template_problem(error: BaseException) -> TemplateProblem | None:
    """The template file, line and message behind `error`, or None if no template caused it.

    A syntax error names its file and line; an error while rendering (an undefined name, a
    filter that failed) is found in the traceback, where Jinja puts each template's own file
    and line.
    """
    if isinstance(error, jinja2.TemplateSyntaxError):
        return TemplateProblem(
            file=error.filename or error.name or "(unknown template)",
            line=error.lineno,
            message=error.message or str(error),
        )
    if isinstance(error, jinja2.TemplateNotFound):
        return TemplateProblem(file=error.name or "(unknown)", line=None, message=str(error))
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.endswith(".j2")
    ]
    if not frames:
        return None
    innermost = frames[-1]
    message = f"{type(error).__name__}: {error}"
    return TemplateProblem(
        file=str(Path(innermost.filename)), line=innermost.lineno, message=message
    )


@dataclass(frozen=True, slots=True)
class DueView:
    """When a digest's emails fall due, by the hour of the site's clock: its rows' times once
    it is planned, else the times it would get at its scheduled send (or now, if that passed)."""

    hours: tuple[tuple[datetime, int], ...]
    planned: bool


def due_view(ctx: Context, digest: Digest, status: DigestStatus) -> DueView:
    zone = ctx.settings.site.zone
    if status.counts.count(channel=DeliveryChannel.EMAIL):
        rows = outbox.due_counts(ctx.store.engine, digest.key)
        return DueView(tuple(outbox.by_hour(rows, zone)), planned=True)
    now = ctx.clock()
    release = max(status.send_at or now, now)
    return DueView(jobs.forecast_due(ctx, digest, release), planned=False)
