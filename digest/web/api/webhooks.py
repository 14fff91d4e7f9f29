"""GET/POST /webhooks, DELETE /webhooks/{name}, POST /webhooks/{name}/resume: the endpoints
the outgoing events go to (settings.yaml's, and those made here)."""

from __future__ import annotations

import re

from digest.errors import Problem
from digest.events import new_secret
from digest.settings import ENDPOINT_NAME
from digest.store import audit
from digest.store import webhooks as endpoints_store
from digest.store.webhooks import Endpoint, Health
from digest.web.api.models import EndpointCreate, EndpointCreated, EndpointOut, EndpointPage
from digest.web.api.operations import Answer, ApiError, Call, Operation, invalid, not_found

NAME = {"name": "the endpoint's name"}
_HTTP_URL = re.compile(r"https?://[^/\s:]+\S*")


def _out(endpoint: Endpoint, health: Health) -> EndpointOut:
    return EndpointOut(
        name=endpoint.name,
        url=endpoint.url,
        events=list(endpoint.events),
        source=endpoint.source,
        failures=health.failures,
        paused_until=health.paused_until,
        last_error=health.last_error,
    )


def _endpoints(call: Call) -> dict[str, Endpoint]:
    configured = call.ctx.settings.outgoing_webhooks.endpoints
    return endpoints_store.endpoints(call.ctx.store.engine, configured)


def list_endpoints(call: Call) -> Answer:
    health = endpoints_store.health(call.ctx.store.engine)
    found = _endpoints(call)
    return Answer(
        200,
        EndpointPage(data=[_out(e, health.get(e.name, Health())) for e in found.values()]),
    )


def create_endpoint(call: Call) -> Answer:
    body: EndpointCreate = call.body
    problems = []
    if not ENDPOINT_NAME.fullmatch(body.name):
        message = "use 1 to 80 lower-case letters, digits, dots, hyphens or underscores"
        problems.append(Problem("", "body", "name", message))
    if not _HTTP_URL.fullmatch(body.url):
        problems.append(Problem("", "body", "url", "not an http(s) URL"))
    if problems:
        raise invalid(problems)
    if body.name in _endpoints(call):
        raise ApiError(409, "exists", f"an endpoint is named {body.name!r}; choose another name")
    secret = new_secret()
    events = tuple(dict.fromkeys(body.events))
    engine = call.ctx.store.engine
    if not endpoints_store.add(
        engine,
        name=body.name,
        url=body.url,
        secret=secret,
        events=events,
        by=call.actor,
        now=call.now,
    ):
        raise ApiError(409, "exists", f"an endpoint is named {body.name!r}; choose another name")
    audit.record(
        engine,
        at=call.now,
        actor=call.actor,
        action="webhook.create",
        subject=f"webhook:{body.name}",
        after={"url": body.url, "events": list(events)},
    )
    endpoint = Endpoint(body.name, body.url, secret, events, "api")
    return Answer(201, EndpointCreated(endpoint=_out(endpoint, Health()), secret=secret))


def _named(call: Call) -> Endpoint:
    name = call.path["name"]
    endpoint = _endpoints(call).get(name)
    if endpoint is None:
        raise not_found(f"no webhook endpoint is named {name!r}")
    return endpoint


def delete_endpoint(call: Call) -> Answer:
    endpoint = _named(call)
    if endpoint.source == "settings":
        message = f"{endpoint.name!r} is configured in settings.yaml; remove it there"
        raise ApiError(409, "configured", message)
    endpoints_store.remove(call.ctx.store.engine, endpoint.name)
    audit.record(
        call.ctx.store.engine,
        at=call.now,
        actor=call.actor,
        action="webhook.delete",
        subject=f"webhook:{endpoint.name}",
        before={"url": endpoint.url, "events": list(endpoint.events)},
    )
    return Answer(204)


def resume_endpoint(call: Call) -> Answer:
    endpoint = _named(call)
    engine = call.ctx.store.engine
    before = endpoints_store.health_of(engine, endpoint.name)
    endpoints_store.resume(engine, endpoint.name, call.now)
    audit.record(
        engine,
        at=call.now,
        actor=call.actor,
        action="webhook.resume",
        subject=f"webhook:{endpoint.name}",
        before={"failures": before.failures},
    )
    return Answer(200, _out(endpoint, Health()))


_TAG = "webhooks"
operations = [
    Operation(
        "GET",
        "/webhooks",
        "listWebhookEndpoints",
        "The endpoints events are sent to, with their health",
        list_endpoints,
        scope="webhooks:read",
        tag=_TAG,
        responses={200: (EndpointPage, "Every endpoint")},
    ),
    Operation(
        "POST",
        "/webhooks",
        "createWebhookEndpoint",
        "Send events to a URL; the answer holds its signing secret, shown only once",
        create_endpoint,
        scope="webhooks:write",
        tag=_TAG,
        body=EndpointCreate,
        responses={201: (EndpointCreated, "Made")},
        errors={409: "An endpoint has that name"},
    ),
    Operation(
        "DELETE",
        "/webhooks/{name}",
        "deleteWebhookEndpoint",
        "Stop sending to an endpoint made through the API; its undelivered events are dropped",
        delete_endpoint,
        scope="webhooks:write",
        tag=_TAG,
        path_params=NAME,
        responses={204: (None, "Deleted")},
        errors={404: "No endpoint has that name", 409: "It is configured in settings.yaml"},
    ),
    Operation(
        "POST",
        "/webhooks/{name}/resume",
        "resumeWebhookEndpoint",
        "End an endpoint's pause now: its waiting events fall due",
        resume_endpoint,
        scope="webhooks:write",
        tag=_TAG,
        path_params=NAME,
        responses={200: (EndpointOut, "Resumed")},
        errors={404: "No endpoint has that name"},
    ),
]
