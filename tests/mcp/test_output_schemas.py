"""The hub's own MCP surface for every client (issue 9, item 8): each tool advertises an
outputSchema describing its own answer, and every result, refusals and errors included,
validates against it (the TypeScript SDK's client validates error results too); tools whose
workflow is not deployed are not listed, and admins see why; annotations are honest; both
protocol revisions (2025-11-25 legacy, 2026-07-28 stateless) are served. Driven by the SDK's
real client against the hub on a real port (no n8n: nothing here needs a workflow to run).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from hub.app import create_app
from hub.registry import service as registry
from hub.runtime import Runtime
from tests.conftest import TenantKit, create_tenant_kit
from tests.helpers import twilio_credentials
from tests.live_hub import free_port, serve_in_thread
from tests.mcp_results import check_result


@pytest.fixture(scope="module")
def hub_url(hub_runtime: Runtime) -> Iterator[str]:
    port = free_port()
    server = serve_in_thread(create_app(runtime=hub_runtime), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    time.sleep(0.3)


@asynccontextmanager
async def mcp(url: str, token: str, mode: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as hc,
        Client(streamable_http_client(url + "/mcp", http_client=hc), mode=mode) as c,
    ):
        yield c


@contextmanager
def deployed(rt: Runtime, tool: str, integration: str) -> Iterator[None]:
    """Point a binding at a workflow version as `hub workflows deploy` does, then undo it."""
    with rt.db.session() as s:
        registry.set_binding_version(s, tool, integration, 1)
    try:
        yield
    finally:
        with rt.db.session() as s:
            registry.set_binding_version(s, tool, integration, None)


def connect(url: str, t: TenantKit, integration: str, creds: dict[str, str]) -> None:
    body = {"integration": integration, "credentials": creds, "base_url": "http://127.0.0.1:9/x"}
    r = httpx.post(f"{url}/api/connections", json=body, headers=t.h("admin"))
    assert r.status_code == 201, r.text


CALLS: list[tuple[str, dict[str, Any], bool]] = [
    # (tool, arguments, is an error result)
    ("hub_capabilities", {}, False),
    ("hub_capabilities", {"domain": "no_such_domain"}, True),
    ("hub_query", {"type": "runs"}, False),
    ("hub_query", {"type": "integrations", "id": "twilio"}, False),
    ("hub_query", {"type": "nonsense"}, True),
    ("check_authorization", {"queue_id": "auth_nope"}, True),
    ("initiate_integration", {"integration": "stripe"}, False),
    ("initiate_integration", {"integration": "twilio"}, False),
    ("initiate_integration", {"integration": "no-such"}, True),
    ("suggest_integration", {"need": "send appointment reminders by SMS"}, False),
    ("disconnect_integration", {"integration": "stripe"}, True),  # no reasoning
    ("hub_action", {"domain": "nope", "action": "send_sms", "data": {}}, True),
    (
        "hub_action",
        {"domain": "connections", "action": "suggest_integration", "data": {"need": "maps"}},
        False,
    ),
    ("send_sms", {"to": "not-a-number", "body": "x"}, True),  # schema refusal
    ("send_sms", {"to": "+15551234567", "body": "hello"}, True),  # no n8n: a failed run
    ("geocode_address", {"address": "1600 Amphitheatre Pkwy"}, True),
]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_every_result_validates_against_its_advertised_output_schema(
    hub_url: str, hub_runtime: Runtime, mode: str
) -> None:
    t = create_tenant_kit(hub_runtime, "os")
    connect(hub_url, t, "twilio", twilio_credentials())
    key = "AIza" + secrets.token_urlsafe(27)[:35]
    connect(hub_url, t, "google_maps", {"api_key": key})

    async def body() -> None:
        async with mcp(hub_url, t.agent, mode) as c:
            assert c.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            tools = {x.name: x for x in (await c.list_tools()).tools}
            assert all(x.output_schema is not None for x in tools.values()), [
                n for n, x in tools.items() if x.output_schema is None
            ]
            for name, args, is_error in CALLS:
                tool = tools.get(name)
                assert tool is not None, f"{name} is not listed"
                result = await c.call_tool(name, args)
                assert bool(result.is_error) is is_error, (name, result)
                assert check_result(tool.output_schema, result) == [], (name, result)
                if is_error and result.structured_content.get("status") == "refused":
                    assert result.structured_content["error"]["kind"]

    with (
        deployed(hub_runtime, "send_sms", "twilio"),
        deployed(hub_runtime, "geocode_address", "google_maps"),
    ):
        anyio.run(body)


def test_a_tool_whose_workflow_is_not_deployed_is_not_listed_and_admins_see_why(
    hub_url: str, hub_runtime: Runtime
) -> None:
    t = create_tenant_kit(hub_runtime, "nd")
    connect(hub_url, t, "twilio", twilio_credentials())

    async def listed() -> set[str]:
        async with mcp(hub_url, t.agent, "legacy") as c:
            return {x.name for x in (await c.list_tools()).tools}

    assert "send_sms" not in anyio.run(listed)
    r = httpx.get(f"{hub_url}/api/tools", headers=t.h("admin")).json()
    sms = next(x for x in r["tools"] if x["name"] == "send_sms")
    assert sms["available"] is True and sms["listed_to_agents"] is False
    assert "not deployed" in sms["not_listed_reason"]
    assert "hub workflows deploy" in sms["not_listed_reason"]
    caps = httpx.get(f"{hub_url}/api/capabilities", headers=t.h("admin")).json()
    action = next(
        a for d in caps["data"]["domains"] for a in d["actions"] if a["name"] == "send_sms"
    )
    assert action["available"] is False and "not deployed" in action["unavailable_reason"]

    with deployed(hub_runtime, "send_sms", "twilio"):
        assert "send_sms" in anyio.run(listed)
        r = httpx.get(f"{hub_url}/api/tools", headers=t.h("admin")).json()
        sms = next(x for x in r["tools"] if x["name"] == "send_sms")
        assert sms["listed_to_agents"] is True and sms["not_listed_reason"] is None


def test_annotations_are_honest(hub_url: str, hub_runtime: Runtime) -> None:
    t = create_tenant_kit(hub_runtime, "an")
    key = "AIza" + secrets.token_urlsafe(27)[:35]
    connect(hub_url, t, "google_maps", {"api_key": key})
    connect(hub_url, t, "twilio", twilio_credentials())

    async def tools() -> dict[str, types.Tool]:
        async with mcp(hub_url, t.agent, "auto") as c:
            return {x.name: x for x in (await c.list_tools()).tools}

    with (
        deployed(hub_runtime, "geocode_address", "google_maps"),
        deployed(hub_runtime, "send_sms", "twilio"),
    ):
        got = anyio.run(tools)
    geo = got["geocode_address"].annotations
    assert geo is not None and geo.read_only_hint is True and geo.destructive_hint is False
    sms = got["send_sms"].annotations
    assert sms is not None and sms.read_only_hint is False
    for name in ("hub_capabilities", "hub_query", "check_authorization", "initiate_integration"):
        a = got[name].annotations
        assert a is not None and a.read_only_hint is True, name
    assert got["disconnect_integration"].annotations.destructive_hint is True  # type: ignore[union-attr]


def test_initiate_integration_links_to_a_console_page_that_exists(
    hub_url: str, hub_runtime: Runtime
) -> None:
    t = create_tenant_kit(hub_runtime, "ii")

    async def initiate() -> dict[str, Any]:
        async with mcp(hub_url, t.agent, "legacy") as c:
            r = await c.call_tool("initiate_integration", {"integration": "stripe"})
            assert r.structured_content is not None
            return r.structured_content

    data = anyio.run(initiate)
    url = data["console_url"]
    assert url.endswith("/integrations/stripe/connect") and url in data["next_step"]
    # Not signed in: the console sends the admin to sign in first, then back to this page.
    r = httpx.get(url.replace(hub_runtime.settings.base_url, hub_url), follow_redirects=False)
    assert r.status_code in (200, 303, 302), r.status_code
    if r.status_code != 200:
        assert "/login" in r.headers["location"]


def test_the_checker_catches_what_the_typescript_client_rejected() -> None:
    """The old envelope (status without 'refused') against a refusal: the mismatch that made
    TypeScript clients throw 'data/status must be equal to one of the allowed values'."""
    old = {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["succeeded", "failed"]}},
        "required": ["status"],
    }
    refusal = types.CallToolResult(
        content=[types.TextContent(text="Refused")],
        structured_content={"status": "refused", "error": {"kind": "x", "message": "y"}},
        is_error=True,
    )
    problems = check_result(old, refusal)
    assert problems and "status" in problems[0]
    missing = types.CallToolResult(content=[types.TextContent(text="ok")])
    assert check_result(old, missing) == ["no structuredContent although outputSchema is set"]
