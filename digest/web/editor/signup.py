"""Sign-up forms for other sites, on the desk: the link to this site's form and the snippet to
paste into another site's page, with and without a script, for the whole site or preselecting
a company or a topic. Every role may take them: they hold nothing private."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from digest.links import site_url
from digest.schedule.ingest import controlled_topics
from digest.web.editor import auth
from digest.web.editor.pages import render
from digest.web.editor.roles import Permission
from digest.web.pages import context_of, path_for
from digest.web.public.subscribe import chosen, embed_snippets


@auth.requires(Permission.VIEW)
async def signup_page(request: Request) -> Response:
    ctx = context_of(request)
    query = request.query_params
    wanted = chosen(ctx, query.getlist("company")[:1], query.getlist("topic")[:1])
    plain, scripted = embed_snippets(request, wanted)
    preselect = [
        *(("company", slug) for slug in wanted.companies),
        *(("topic", topic) for topic in wanted.topics),
    ]
    link = site_url(ctx.settings.site, path_for(request, "subscribe"))
    return render(
        request,
        "signup.html.j2",
        companies={slug: company.name for slug, company in ctx.store.companies().items()},
        topics=sorted(controlled_topics(ctx)),
        company=wanted.companies[0] if wanted.companies else "",
        topic=wanted.topics[0] if wanted.topics else "",
        link=f"{link}?{urlencode(preselect)}" if preselect else link,
        plain=plain,
        scripted=scripted,
    )
