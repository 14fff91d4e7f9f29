"""Messages the site sends one person: the double opt-in confirmation, and the private link they
asked for to download or delete their data. A subject, a text part and (unless they chose text)
an HTML part, from `email/_notice.mjml.j2` and `text/_notice.txt.j2` filled in per notice.

Pure: templates in, parts out. Rendered once per message, so the MJML is compiled per message;
a bulk digest's compile-once-per-variant machinery would buy nothing here.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Literal

import jinja2

from digest.links import LIFETIMES, Timed
from digest.models import EmailFormat
from digest.render.email import EmailParts, compile_mjml
from digest.render.headers import header_text
from digest.settings import SiteSettings

# Each notice is the link of one timed purpose.
NoticeKind = Literal["confirm", "data", "delete"]

# (template, subject, heading); the subject names the site.
_NOTICES: dict[NoticeKind, tuple[str, str, str]] = {
    "confirm": ("confirm", "Confirm your subscription to {}", "Confirm your subscription"),
    "data": ("private_link", "Your link to download your data from {}", "Download your data"),
    "delete": ("private_link", "Your link to delete your data from {}", "Delete your data"),
}


def notice_parts(
    env: jinja2.Environment,
    site: SiteSettings,
    kind: NoticeKind,
    *,
    email: str,
    given_name: str,
    link_url: str,
    unsubscribe_url: str,
    email_format: EmailFormat,
) -> EmailParts:
    template, subject, heading = _NOTICES[kind]
    context = {
        "site": site,
        "subject": subject.format(site.name),
        "heading": heading,
        "action": kind,
        "email": email,
        "greeting": greeting(given_name),
        "link_url": link_url,
        "confirm_url": link_url,  # the name a deployment's own confirm templates know it by
        "lifetime": lifetime(kind),
        "unsubscribe_url": unsubscribe_url,
        "sender_address": parseaddr(site.from_address)[1],
    }
    text = env.get_template(f"text/{template}.txt.j2").render(context)
    html = None
    if email_format == "html":
        source = env.get_template(f"email/{template}.mjml.j2").render(context)
        html = compile_mjml(source)
    return EmailParts(subject=context["subject"], text=text, html=html)


def lifetime(purpose: Timed) -> str:
    """How long the purpose's link works, in words: "7 days", "30 minutes"."""
    minutes = int(LIFETIMES[purpose].total_seconds()) // 60
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("a lifetime is whole minutes")


def greeting(given_name: str) -> str:
    """ "Hi Anna," with the given name; a neutral "Hello," without one."""
    name = header_text(given_name)
    return f"Hi {name}," if name else "Hello,"
