"""The double opt-in message: a subject, a text part and (unless they chose text) an HTML part.

Pure: templates in, parts out. Rendered once per sign-up, so the MJML is compiled per message;
a bulk digest's compile-once-per-variant machinery would buy nothing here.
"""

from __future__ import annotations

from email.utils import parseaddr

import jinja2

from digest.models import EmailFormat
from digest.render.email import EmailParts, compile_mjml
from digest.render.headers import header_text
from digest.settings import SiteSettings


def confirmation_parts(
    env: jinja2.Environment,
    site: SiteSettings,
    *,
    email: str,
    given_name: str,
    confirm_url: str,
    unsubscribe_url: str,
    email_format: EmailFormat,
) -> EmailParts:
    context = {
        "site": site,
        "subject": f"Confirm your subscription to {site.name}",
        "email": email,
        "greeting": greeting(given_name),
        "confirm_url": confirm_url,
        "unsubscribe_url": unsubscribe_url,
        "sender_address": parseaddr(site.from_address)[1],
    }
    text = env.get_template("text/confirm.txt.j2").render(context)
    html = None
    if email_format == "html":
        source = env.get_template("email/confirm.mjml.j2").render(context)
        html = compile_mjml(source)
    return EmailParts(subject=context["subject"], text=text, html=html)


def greeting(given_name: str) -> str:
    """ "Hi Anna," with the given name; a neutral "Hello," without one."""
    name = header_text(given_name)
    return f"Hi {name}," if name else "Hello,"
