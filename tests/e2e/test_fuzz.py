"""Fuzzing the REST API from its own OpenAPI document (schemathesis), as an admin and an agent.

Fails on any 5xx, any refusal outside the hub's error shape or any other conformance failure
between the document and the routes: undocumented statuses, bodies that do not match their
schema, wrong content types, invalid input the routes accept. Bounded: a few dozen examples
per operation. Revoking the fuzzing tenant's own tokens is left out, so the run keeps its
credentials.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from hub.app import create_app
from hub.runtime import Runtime
from tests.conftest import create_tenant_kit
from tests.helpers import twilio_credentials
from tests.live_hub import free_port, serve_in_thread


@dataclass
class Target:
    """The served hub and the tokens the fuzzer uses."""

    url: str
    admin: str
    agent: str


@pytest.fixture(scope="module")
def target(hub_runtime: Runtime) -> Iterator[Target]:
    """A hub on a real port with a tenant that has a connection to read and change."""
    kit = create_tenant_kit(hub_runtime, "fuzz")
    port = free_port()
    server = serve_in_thread(create_app(runtime=hub_runtime), port)
    url = f"http://127.0.0.1:{port}"
    r = httpx.post(
        f"{url}/api/connections",
        json={"integration": "twilio", "credentials": twilio_credentials()},
        headers=kit.h("admin"),
    )
    assert r.status_code == 201, r.text
    yield Target(url, kit.admin, kit.agent)
    server.should_exit = True
    time.sleep(0.3)


@pytest.fixture(scope="module")
def api(target: Target) -> schemathesis.BaseSchema:
    """The hub's OpenAPI document, without the operation that revokes our own tokens."""
    schema = schemathesis.openapi.from_url(f"{target.url}/openapi.json")
    # Registering or refreshing an MCP server connects to the URL given (any public host
    # passes the outbound guard): tests talk only to loopback, so the fuzzer leaves those two
    # to tests/federation, which drive them against loopback servers.
    return (
        schema.exclude(method="DELETE", path="/api/tokens/{token_id}")
        .exclude(method="POST", path="/api/mcp-servers")
        .exclude(method="POST", path="/api/mcp-servers/{server_id}/refresh")
    )


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]

FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def fuzz(api: schemathesis.BaseSchema, target: Target, token: str) -> list[str]:
    """Every operation, valid and invalid generated inputs; the failures, one per operation."""
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            auth = {"Authorization": f"Bearer {token}"}

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode, headers=auth))
            def one(case: schemathesis.Case) -> None:
                response = case.call(base_url=target.url)
                case.validate_response(response, checks=CHECKS)

            try:
                one()
            except Unsatisfiable:
                continue  # no invalid input exists for an operation that takes none
            except Exception as exc:  # collected: one operation's failure must not hide others
                failures.append(f"{operation.label} ({mode.value}): {exc}"[:2000])
    return failures


def test_the_api_answers_an_admin_as_its_document_says(api, target: Target) -> None:
    failures = fuzz(api, target, target.admin)
    assert failures == [], "\n\n".join(failures)


def test_the_api_answers_an_agent_as_its_document_says(api, target: Target) -> None:
    failures = fuzz(api, target, target.agent)
    assert failures == [], "\n\n".join(failures)
