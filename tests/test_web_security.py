"""The defences every page shares (digest/web/security.py): headers, same-origin writes, paths
that never echo the Host header, proxies believed only when trusted, no Server header."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from test_web_public import context, subscribe, token  # noqa: F401  (the fixture, helpers)
from web_support import live_server

from digest.context import Context
from digest.settings import Secret
from digest.web.app import create_app, shared_middleware
from digest.web.security import PAGE_CSP

pytestmark = pytest.mark.anyio
SUBSCRIBER = "s001"  # in the sample list


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(context: Context) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c


def pages(ctx: Context) -> list[str]:
    return [
        "/archive",
        "/subscribe",
        "/editor/login",
        f"/preferences/{token(ctx, SUBSCRIBER, 'preferences')}",
        f"/unsubscribe/{token(ctx, SUBSCRIBER, 'unsubscribe')}",
        "/no/such/page",
    ]


async def test_every_page_carries_the_security_headers(
    client: httpx.AsyncClient,
    context: Context,  # noqa: F811
) -> None:
    for path in pages(context):
        response = await client.get(path)
        headers = response.headers
        assert headers["content-security-policy"] == PAGE_CSP, path
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] in ("same-origin", "no-referrer"), path
        assert "server" not in headers


async def test_no_page_has_inline_script_style_or_handlers(
    client: httpx.AsyncClient,
    context: Context,  # noqa: F811
) -> None:
    inline = re.compile(r"<script(?![^>]*\ssrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    for path in pages(context):
        text = (await client.get(path)).text
        assert inline.search(text) is None, (path, inline.search(text))
    templates = Path(__file__).resolve().parent.parent / "templates" / "web"
    for template in templates.rglob("*.j2"):
        assert inline.search(template.read_text()) is None, template


async def test_a_cross_site_form_post_is_refused_and_a_same_site_one_is_not(
    client: httpx.AsyncClient,
) -> None:
    form = {"email": "new.reader@example.com", "name": "New Reader"}
    forged = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1:8000"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is not this site either
    ]
    for headers in forged:
        refused = await client.post("/subscribe", data=form, headers=headers)
        assert refused.status_code == 403, headers
        assert "sent from another site" in refused.text
        assert refused.headers["content-security-policy"] == PAGE_CSP
    for number, headers in enumerate(
        (
            {"Origin": "http://127.0.0.1:8000"},  # the address the request was sent to
            {"Origin": "https://news.example.org"},  # site.base_url
            {"Sec-Fetch-Site": "same-origin"},
            {},  # not a browser: nobody's cookies ride along
        )
    ):
        client.headers.update(headers)
        accepted = await subscribe(client, f"reader{number}@example.com")
        for name in headers:
            del client.headers[name]
        assert accepted.status_code == 200, headers


async def test_one_click_unsubscribe_takes_a_cross_site_post(
    client: httpx.AsyncClient,
    context: Context,  # noqa: F811
) -> None:
    response = await client.post(
        f"/unsubscribe/{token(context, SUBSCRIBER, 'unsubscribe')}",
        data={"List-Unsubscribe": "One-Click"},
        headers={"Origin": "https://mail.provider.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200


async def test_redirects_never_echo_the_host_header(context: Context) -> None:  # noqa: F811
    web = context.settings.web
    editor = replace(web.editor, token=Secret("t" * 32))
    context.settings = replace(context.settings, web=replace(web, editor=editor))
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for path in ("/", "/editor/", "/editor/digest/weekly:2026-W48"):
            response = await client.get(path, headers={"Host": "evil.example"})
            assert response.status_code == 303
            location = response.headers["location"]
            assert "evil" not in location and location.startswith("/"), location


async def test_forwarded_scheme_and_client_are_believed_only_from_a_trusted_proxy(
    context: Context,  # noqa: F811
) -> None:
    def seen(request: Request) -> PlainTextResponse:
        assert request.client is not None
        return PlainTextResponse(f"{request.url.scheme} {request.client.host}")

    probe = Starlette(routes=[Route("/probe", seen)], middleware=shared_middleware(context))
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    answers = []
    for peer in ("127.0.0.1", "203.0.113.9"):  # the trusted proxy, then a stranger
        transport = httpx.ASGITransport(app=probe, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
            answers.append((await c.get("/probe", headers=forwarded)).text)
    assert answers == ["https 198.51.100.4", "http 203.0.113.9"]


def test_the_live_server_sends_no_server_header(context: Context) -> None:  # noqa: F811
    with live_server(create_app(context)) as base:
        response = httpx.get(f"{base}/archive")
    assert response.status_code == 200
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
