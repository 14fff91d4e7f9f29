"""The OpenAPI 3.1 document, written from the operations and their pydantic models (never by
hand), and the reference page that reads it to a person."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from digest import __version__
from digest.store.api_tokens import SCOPES
from digest.web.api.models import ErrorBody
from digest.web.api.operations import COMMON_ERRORS, JSON, REQUEST_ID, Operation, RawBody

PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
TAGS = {
    "items": "Companies, news items and AMW Reads: what digests are made of",
    "digests": "Digests as composed and stored, and their deliveries",
    "subscribers": "Subscribers, by address",
    "webhooks": "Where the outgoing events go (each signed as Standard Webhooks specify)",
}
DESCRIPTION = (
    "The JSON API of digest. Every request carries a token (`Authorization: Bearer dgst_…`, "
    "made with `digest api-token create NAME --scope …`); each operation names the scope it "
    "needs. Every answer carries `X-Request-Id`; errors are JSON (`ErrorBody`); lists are "
    "paged by cursor (`next_cursor`); reads answer with an `ETag` and 304 to `If-None-Match`."
)


def document(operations: Sequence[Operation], base_url: str) -> dict[str, Any]:
    schemas, refs = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            operation, schemas, refs
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "digest API", "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": base_url.rstrip("/") + PREFIX}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": f"An API token; its scopes: {', '.join(SCOPES)}",
                }
            },
        },
    }


Refs = dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]]


def _schemas(operations: Sequence[Operation]) -> tuple[dict[str, Any], Refs]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for operation in operations:
        if operation.query is not None:
            wanted.append((operation.query, "validation"))
        if operation.body is not None and not isinstance(operation.body, RawBody):
            wanted.append((operation.body, "validation"))
        for model, _ in operation.responses.values():
            if model is not None:
                wanted.append((model, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    return dict(top.get("$defs", {})), dict(refs)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def _headers(*names: str) -> dict[str, Any]:
    described = {
        REQUEST_ID: "This request's id: quote it when asking about it",
        "ETag": "The answer's version: send it back as If-None-Match",
        "Retry-After": "Seconds to wait before the next request",
        "Location": "The address of what was made",
        "WWW-Authenticate": "How to authenticate",
    }
    return {
        name: {"description": described[name], "schema": {"type": "string"}}
        for name in (REQUEST_ID, *names)
    }


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    properties = schemas[model.__name__]["properties"]
    parameters = []
    for name, field in model.model_fields.items():
        schema = dict(properties[name])
        # An absent parameter is None: a query string cannot say null.
        options = [part for part in schema.pop("anyOf", []) if part != {"type": "null"}]
        if len(options) == 1:
            schema = {**options[0], **schema}
        elif options:
            schema["anyOf"] = options
        description = schema.pop("description", field.description or "")
        schema.pop("default", None)
        schema.pop("title", None)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": field.is_required(),
                "description": description,
                "schema": schema,
            }
        )
    return parameters


def _operation(operation: Operation, schemas: dict[str, Any], refs: Refs) -> dict[str, Any]:
    error = {"$ref": REF.format(model=ErrorBody.__name__)}
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in operation.path_params.items()
    ]
    if operation.query is not None:
        parameters.extend(_query_parameters(operation.query, schemas))
    responses: dict[str, Any] = {}
    for status, (model, text) in sorted(operation.responses.items()):
        answer: dict[str, Any] = {"description": text}
        names = ("ETag",) if operation.cacheable else ()
        if status == 201:
            names = ("Location",)
        answer["headers"] = _headers(*names)
        if model is not None:
            answer["content"] = _json(refs[(model, "serialization")])
        responses[str(status)] = answer
    if operation.cacheable:
        responses["304"] = {
            "description": "Not modified since the ETag sent as If-None-Match",
            "headers": _headers("ETag"),
        }
    errors = dict(COMMON_ERRORS)
    if operation.body is not None:
        errors[413] = "The body is over 10 MB"
        errors[415] = "The body is not of a media type this operation takes"
    errors.update(operation.errors)
    for status, text in sorted(errors.items()):
        names = {401: ("WWW-Authenticate",), 429: ("Retry-After",)}.get(status, ())
        responses[str(status)] = {
            "description": text,
            "headers": _headers(*names),
            "content": _json(error),
        }
    described: dict[str, Any] = {
        "operationId": operation.name,
        "summary": operation.summary,
        "description": f"Needs the scope `{operation.scope}`.",
        "tags": [operation.tag],
        "security": [{"token": []}],
        "x-scope": operation.scope,
        "parameters": parameters,
        "responses": responses,
    }
    if isinstance(operation.body, RawBody):
        described["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": operation.body.schema if media == JSON else {"type": "string"}}
                for media in operation.body.media_types
            },
        }
    elif operation.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": _json(refs[(operation.body, "validation")]),
        }
    return described
