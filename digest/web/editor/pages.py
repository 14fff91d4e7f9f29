"""Rendering the desk's pages: the editor's templates with what every page shows (who is logged
in, what their role may do, the CSRF token), and a page of its own for a broken template."""

from __future__ import annotations

import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from digest.web.editor import auth, previews
from digest.web.editor.roles import GRANTS, Permission
from digest.web.pages import context_of, url_maker


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    """An editor page; a template that fails shows its file, line and message instead."""
    ctx = context_of(request)
    session = auth.current_session(request)
    granted = GRANTS[session.account.role] if session else frozenset()
    try:
        page_html = ctx.env.get_template(f"web/editor/{template}").render(
            site=ctx.settings.site,
            request=request,
            url_for=url_maker(request),
            account=session.account if session else None,
            can={permission.name.lower(): permission in granted for permission in Permission},
            csrf_field=auth.CSRF_FIELD,
            csrf_token=auth.csrf_token(request),
            flash=auth.take_flash(request),
            **values,
        )
    except Exception as error:
        problem = previews.template_problem(error)
        if problem is None:
            raise
        return template_error(problem)
    response = HTMLResponse(page_html, status_code=status_code)
    auth.keep_login_cookie(request, response)
    return response


def template_error(problem: previews.TemplateProblem) -> Response:
    """Plain HTML, no template: the templates are what is broken."""
    where = f"line {problem.line}" if problem.line is not None else "(no line)"
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Template error</title></head><body>"
        "<h1>Template error</h1>"
        f"<p>File: <code class=template-file>{html.escape(problem.file)}</code></p>"
        f"<p>Line: <code class=template-line>{html.escape(where)}</code></p>"
        f"<pre class=template-message>{html.escape(problem.message)}</pre>"
        "<p>Fix the template and reload this page: templates are read again when they change."
        "</p></body></html>"
    )
    return HTMLResponse(body, status_code=500)
