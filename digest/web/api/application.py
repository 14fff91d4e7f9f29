"""The API as its own Starlette app, mounted at /api/v1: its operations, the OpenAPI document,
the reference page, and JSON (never an HTML page) for every error, unknown paths included."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from digest.context import Context
from digest.store.api_tokens import SCOPES
from digest.web.api import digests, items, openapi, subscribers, webhooks
from digest.web.api.operations import (
    ApiError,
    Gate,
    Operation,
    RequestIds,
    endpoint,
    error_response,
    request_id_of,
)
from digest.web.pages import page
from digest.web.throttle import Policy

OPERATIONS: list[Operation] = [
    *items.operations,
    *digests.operations,
    *subscribers.operations,
    *webhooks.operations,
]


def _document(request: Request) -> dict[str, object]:
    ctx = request.app.state.ctx
    return openapi.document(OPERATIONS, ctx.settings.site.base_url)


def openapi_json(request: Request) -> Response:
    return JSONResponse(_document(request))


def reference(request: Request) -> Response:
    return page(request, "api/reference.html.j2", doc=_document(request), scopes=SCOPES)


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = {
        404: "no such path in the API; see /api/v1/openapi.json",
        405: "this path does not take that method; see /api/v1/openapi.json",
    }.get(exc.status_code, str(exc.detail))
    error = ApiError(exc.status_code, code, message, headers=exc.headers)
    return error_response(request_id_of(request.scope), error)


def _by_path(operations: list[Operation]) -> dict[str, list[Operation]]:
    paths: dict[str, list[Operation]] = {}
    for operation in operations:
        paths.setdefault(operation.path, []).append(operation)
    return paths


def _route(path: str, operations: list[Operation], gate: Gate) -> Route:
    """One route per path, so that a method it does not take answers 405 with every method
    it does take in `Allow`."""
    by_method = {operation.method: endpoint(operation, gate) for operation in operations}

    async def dispatch(request: Request) -> Response:
        response: Response = await by_method[request.method](request)
        return response

    return Route(path, dispatch, methods=list(by_method))


def mount(ctx: Context) -> Mount:
    gate = Gate(ctx, Policy("api-token", ctx.settings.web.api.rate_limit))
    routes = [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/", reference, methods=["GET"], name="api_reference"),
        Route("/docs", reference, methods=["GET"]),
        *(_route(path, operations, gate) for path, operations in _by_path(OPERATIONS).items()),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestIds)],
        exception_handlers={HTTPException: http_error},
    )
    app.state.ctx = ctx
    mounted = Mount(openapi.PREFIX, app=app)
    # Every path under the prefix is the API's, one with an encoded line break too (Starlette's
    # pattern would hand it to the public pages, which answer in HTML).
    mounted.path_regex = re.compile(mounted.path_regex.pattern, re.DOTALL)
    return mounted
