"""The whole API fuzzed from its own OpenAPI document with schemathesis: no answer is a 5xx,
and every answer (status, content type, headers, body) is one the document describes.

The document is the one the app serves (checked below), loaded when the module is; the app it
is run against comes from a fixture. Bounded for the suite's time: FUZZ_EXAMPLES examples per
operation (the figures are in docs/api.md); DIGEST_FUZZ_EXAMPLES=200 makes a longer run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from digest.store.api_tokens import SCOPES
from digest.web.api import openapi
from digest.web.api.application import OPERATIONS
from digest.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient

from api_support import BASE_URL, open_world, seed, seeded_copy

FUZZ_EXAMPLES = int(os.environ.get("DIGEST_FUZZ_EXAMPLES", "40"))
DOCUMENT = openapi.document(OPERATIONS, BASE_URL)


@dataclass
class Target:
    app: Starlette | None = None
    headers: dict[str, str] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app of the test that runs now (schemathesis takes the app when it loads)."""
        assert self.app is not None, "the target fixture makes the app"
        await self.app(scope, receive, send)


TARGET = Target()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = TARGET
# The batch body is checked by ingest's own rules (a slug's shape, a company that exists),
# which its JSON Schema does not spell out: data the schema allows may still be refused (422).
NOT_CHECKED = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("fuzz")
    seed(f"sqlite:///{folder / 'seed.db'}")
    world = open_world(seeded_copy(folder / "seed.db", folder), folder)
    TARGET.app, TARGET.headers = create_app(world.ctx), world.auth(*SCOPES)
    yield TARGET
    TARGET.app = None
    world.ctx.close()


def test_the_fuzzed_document_is_the_one_the_app_serves(target: Target) -> None:
    assert target.app is not None
    served = TestClient(target.app).get("/api/v1/openapi.json").json()
    assert served == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented_and_none_is_a_5xx(case: Any, target: Target) -> None:
    case.call_and_validate(headers=target.headers, excluded_checks=NOT_CHECKED)
