"""How an API operation is declared, checked and answered: one `Operation` per method and path.

An operation names its scope, its query, body and answer types (pydantic models): the same
declaration validates the request, serialises the answer and writes the OpenAPI document
(`openapi.py`), so the document cannot drift from what the handlers do.

Every request: a request id (kept from `X-Request-Id` when it is sane), the token checked (401
without a live one, 403 without the scope), counted against the token's rate limit (429 with
`Retry-After`), its query and body validated (422 listing every problem as `record: field:
problem`), and the answer as JSON. A GET answers with an ETag and 304 to a matching
`If-None-Match`. Nothing a client sends makes a stack trace: an unexpected error is logged
with the request id and answered 500 in JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.context import Context
from digest.errors import Problem
from digest.store import api_tokens
from digest.store.api_tokens import ApiToken
from digest.web.api.models import ErrorBody, ProblemOut
from digest.web.throttle import Policy, Throttle

log = logging.getLogger("digest")

REQUEST_ID = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_BODY = 10 * 1024 * 1024  # a batch bigger than this goes in several requests
JSON = "application/json"


class ApiError(Exception):
    """An answer other than success: its status, a stable code, words for a person."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        problems: Sequence[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = tuple(problems)
        self.headers = dict(headers or {})


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", what)


def invalid(problems: Sequence[Problem]) -> ApiError:
    count = len(problems)
    message = f"{count} problem{'s' if count != 1 else ''}; nothing was changed"
    return ApiError(422, "invalid", message, problems=problems)


# What every operation may answer besides its success, for the OpenAPI document.
COMMON_ERRORS = {
    401: "No token, an unknown one or a revoked one (`Authorization: Bearer dgst_…`)",
    403: "The token lacks the scope this operation needs",
    422: "The query or body is not valid: every problem, as `record: field: problem`",
    429: "The token's rate limit is reached; `Retry-After` says when to try again",
}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: BaseModel | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: the request's parts, validated, and who is asking."""

    ctx: Context
    token: ApiToken
    path: Mapping[str, str]
    query: Any  # an instance of the operation's query model (None without one)
    body: Any  # an instance of its body model, or the raw bytes for a raw body (None without)
    content_type: str
    now: datetime
    request_id: str

    @property
    def actor(self) -> str:
        return f"token:{self.token.name}"


@dataclass(frozen=True)
class RawBody:
    """A body a handler validates itself (a batch, validated exactly as `digest ingest` does);
    `schema` describes it in the document, `media_types` are those accepted."""

    schema: Mapping[str, Any]
    media_types: tuple[str, ...] = (JSON,)


Handler = Callable[[Call], Answer]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # below /api/v1, with {params}
    name: str  # the operationId
    summary: str
    handler: Handler
    scope: str
    tag: str
    responses: Mapping[int, tuple[type[BaseModel] | None, str]]  # status: (model, description)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | RawBody | None = None
    path_params: Mapping[str, str] = field(default_factory=dict)  # name: description
    errors: Mapping[int, str] = field(default_factory=dict)  # more than COMMON_ERRORS

    @property
    def cacheable(self) -> bool:
        return self.method == "GET"


def request_id_of(scope: Scope) -> str:
    request_id: str = scope.setdefault("state", {}).setdefault(
        "request_id", f"req_{secrets.token_hex(8)}"
    )
    return request_id


class RequestIds:
    """ASGI middleware: every answer of the API carries `X-Request-Id` (the client's, if sane)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = (
            dict(scope.get("headers") or []).get(REQUEST_ID.lower().encode(), b"").decode("latin-1")
        )
        if _SANE_ID.fullmatch(given):
            scope.setdefault("state", {})["request_id"] = given
        request_id = request_id_of(scope)

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, tagged)


def error_response(request_id: str, error: ApiError) -> Response:
    body = ErrorBody(
        status=error.status,
        code=error.code,
        message=error.message,
        request_id=request_id,
        problems=[problem_out(problem) for problem in error.problems],
    )
    return json_response(error.status, body, error.headers)


def problem_out(problem: Problem) -> ProblemOut:
    text = f"{problem.field}: {problem.message}" if problem.field else problem.message
    if problem.record:
        text = f"{problem.record}: {text}"
    return ProblemOut(
        record=problem.record, field=problem.field, message=problem.message, text=text
    )


def json_response(
    status: int, body: BaseModel | None, headers: Mapping[str, str] | None = None
) -> Response:
    if body is None:
        return Response(status_code=status, headers=dict(headers or {}))
    content = body.model_dump_json(by_alias=True).encode()
    return Response(content, status_code=status, media_type=JSON, headers=dict(headers or {}))


@dataclass
class Gate:
    """Checks a request's token and counts it against the token's rate limit."""

    ctx: Context
    policy: Policy

    def token(self, request: Request, now: datetime) -> ApiToken:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="digest api"'}
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(
                401,
                "missing_token",
                "send a token as `Authorization: Bearer dgst_…` (`digest api-token create`)",
                headers=challenge,
            )
        token = api_tokens.authenticate(self.ctx.store.engine, secret.strip(), now)
        if token is None:
            raise ApiError(401, "unknown_token", "no such token; check it", headers=challenge)
        if token.revoked:
            message = f"the token {token.name!r} was revoked; create a new one"
            raise ApiError(401, "revoked_token", message, headers=challenge)
        verdict = Throttle(self.ctx.store.engine, self.ctx.clock).hit(self.policy, token.name)
        if not verdict.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests for the token {token.name!r}; try again in "
                f"{verdict.wait_words}",
                headers={"Retry-After": str(verdict.retry_after)},
            )
        return token


def endpoint(operation: Operation, gate: Gate) -> Callable[[Request], Any]:
    """The Starlette endpoint that runs one operation."""

    async def run(request: Request) -> Response:
        request_id = request_id_of(request.scope)
        try:
            raw = await _read_body(request) if operation.body is not None else b""
            response = await run_in_threadpool(_answer, operation, gate, request, raw)
        except ApiError as error:
            return error_response(request_id, error)
        except Exception:
            path = request.url.path
            log.exception("api %s %s failed (request %s)", request.method, path, request_id)
            message = f"something went wrong on our side; quote request id {request_id}"
            return error_response(request_id, ApiError(500, "internal", message))
        return response

    return run


async def _read_body(request: Request) -> bytes:
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise _too_large()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large()
    return body


def _too_large() -> ApiError:
    megabytes = MAX_BODY // (1024 * 1024)
    return ApiError(413, "too_large", f"the body is over {megabytes} MB; send it in parts")


def _answer(operation: Operation, gate: Gate, request: Request, raw: bytes) -> Response:
    ctx = gate.ctx
    now = ctx.clock()
    token = gate.token(request, now)
    if not token.allows(operation.scope):
        message = f"the token {token.name!r} lacks the scope {operation.scope}"
        raise ApiError(403, "missing_scope", message)
    query = _query(operation, request)
    content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    body = _body(operation, raw, content_type)
    call = Call(
        ctx=ctx,
        token=token,
        path=dict(request.path_params),
        query=query,
        body=body,
        content_type=content_type,
        now=now,
        request_id=request_id_of(request.scope),
    )
    answer = operation.handler(call)
    response = json_response(answer.status, answer.body, answer.headers)
    if operation.cacheable and answer.status == 200:
        return _conditional(request, response)
    return response


def _query(operation: Operation, request: Request) -> Any:
    if operation.query is None:
        return None
    try:
        return operation.query.model_validate(dict(request.query_params))
    except ValidationError as error:
        raise invalid(pydantic_problems(error, "query")) from None


def _body(operation: Operation, raw: bytes, content_type: str) -> Any:
    if operation.body is None:
        return None
    if isinstance(operation.body, RawBody):
        if content_type not in operation.body.media_types:
            accepted = ", ".join(operation.body.media_types)
            raise ApiError(415, "unsupported_media_type", f"send the body as {accepted}")
        return raw
    if content_type != JSON:
        raise ApiError(415, "unsupported_media_type", f"send the body as {JSON}")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problem = Problem("", "body", "", f"not valid JSON: {error}")
        raise invalid([problem]) from None
    try:
        return operation.body.model_validate(data, strict=True)
    except ValidationError as error:
        raise invalid(pydantic_problems(error, "body")) from None


def pydantic_problems(error: ValidationError, record: str) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        location = ".".join(str(part) for part in detail["loc"])
        problems.append(Problem("", record, location, _words(detail)))
    return problems


def _words(detail: Mapping[str, Any]) -> str:
    kind = detail["type"]
    if kind == "missing":
        return "missing; add it"
    if kind == "extra_forbidden":
        return "unknown field; remove it"
    message: str = detail["msg"]
    return message[:1].lower() + message[1:]


def _conditional(request: Request, response: Response) -> Response:
    tag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "private, no-cache"
    wanted = request.headers.get("if-none-match", "")
    candidates = {part.strip().removeprefix("W/") for part in wanted.split(",")}
    if tag in candidates or "*" in candidates:
        headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
        return Response(status_code=304, headers=headers)
    return response
