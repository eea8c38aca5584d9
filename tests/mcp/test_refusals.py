"""Refusals on /mcp: every HTTP-level one in the hub's error shape, and the bounds of a call
enforced before anything else, the same as over REST (in-process, JSON-RPC by hand)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.core import limits
from tests.conftest import TenantKit

HOST = {"Host": "127.0.0.1:8000"}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def post(client, tenant: TenantKit, body: Any, **headers: str):
    return client.post(
        "/mcp",
        content=body if isinstance(body, bytes) else json.dumps(body),
        headers={
            **HOST,
            **ACCEPT,
            **tenant.h("agent"),
            "MCP-Protocol-Version": "2025-11-25",
            **headers,
        },
    )


def hub_shaped(r) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/json"), r.text
    err = r.json()["error"]
    assert isinstance(err["kind"], str) and isinstance(err["message"], str), r.text
    return err


def call(client, tenant: TenantKit, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    r = post(client, tenant, rpc("tools/call", {"name": name, "arguments": arguments}))
    assert r.status_code == 200, r.text
    return r.json()["result"]


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({"Origin": "https://evil.example"}, 403, "forbidden"),
        ({"Host": "evil.example"}, 421, "misdirected_request"),
        ({"Content-Type": "text/plain"}, 400, "invalid_request"),
        ({"Accept": "text/html"}, 406, "not_acceptable"),
    ],
)
def test_transport_refusals_are_in_the_hubs_shape(client, tenant, headers, status, kind):
    r = post(client, tenant, rpc("tools/list", {}), **headers)
    assert r.status_code == status
    assert hub_shaped(r)["kind"] == kind


def test_a_parse_error_keeps_json_rpc_and_gains_a_kind(client, tenant):
    r = post(client, tenant, b"{not json")
    assert r.status_code == 400
    body = r.json()
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == -32700
    assert hub_shaped(r)["kind"] == "invalid_request"


def test_a_body_over_the_limit_is_refused_in_the_hubs_shape(client, tenant):
    big = rpc("tools/call", {"name": "hub_query", "arguments": {"type": "x" * (2 << 20)}})
    r = post(client, tenant, big)
    assert r.status_code == 413 and hub_shaped(r)["kind"] == "too_large"


def test_unauthenticated_is_in_the_hubs_shape(client, tenant):
    r = client.post("/mcp", json=rpc("tools/list", {}), headers={**HOST, **ACCEPT})
    assert r.status_code == 401 and hub_shaped(r)["kind"] == "unauthenticated"


def rows(hub_runtime, *tables: str) -> dict[str, int]:
    from hub.schema import all_metadata

    meta = all_metadata()[0]
    with hub_runtime.db.engine.connect() as c:
        return {t: c.scalar(select(func.count()).select_from(meta.tables[t])) for t in tables}


@pytest.mark.parametrize(
    ("name", "arguments", "field"),
    [
        (
            "send_sms",
            {"to": "+15551234567", "body": "hi", "idempotency_key": "k" * 300},
            "idempotency_key",
        ),
        (
            "charge_card",
            {
                "amount": 100,
                "currency": "USD",
                "customer_id": "c",
                "payment_method_id": "pm",
                "reasoning": "r" * 5000,
            },
            "reasoning",
        ),
        ("hub_query", {"type": "runs", "id": "r" * 5000}, "id"),
        (
            "hub_action",
            {
                "domain": "messaging",
                "action": "send_sms",
                "data": {"to": "+1", "body": "b" * 200_000},
            },
            "data.body",
        ),
        ("check_authorization", {"queue_id": "q" * 1_000_000}, "queue_id"),
        ("send_sms", {"to": "+15551234567", "body": "x\u0000y"}, "body"),
    ],
)
def test_bounds_are_checked_first_and_nothing_is_stored(
    client, hub_runtime, tenant, name, arguments, field
):
    post(client, tenant, rpc("tools/list", {}))  # the token's first use is audited now
    before = rows(hub_runtime, "runs", "authorizations", "audit_log")
    result = call(client, tenant, name, arguments)
    assert result["isError"] is True
    err = result["structuredContent"]["error"]
    assert err["kind"] == "invalid_request" and field in err["field"], err
    assert rows(hub_runtime, "runs", "authorizations", "audit_log") == before


def test_rest_and_mcp_refuse_an_oversized_key_in_the_same_words(client, tenant):
    key = "k" * (limits.IDEMPOTENCY_KEY_MAX + 1)
    rest = client.post(
        "/api/tools/send_sms/call",
        json={"args": {"to": "+15551234567", "body": "hi"}, "idempotency_key": key},
        headers=tenant.h("agent"),
    )
    mcp = call(
        client, tenant, "send_sms", {"to": "+15551234567", "body": "hi", "idempotency_key": key}
    )
    assert rest.status_code == 422
    assert rest.json()["error"]["message"] == mcp["structuredContent"]["error"]["message"]


def test_an_unknown_tool_name_is_not_echoed(client, tenant):
    name = "sk_live_" + "Z" * 20
    result = call(client, tenant, name, {})
    assert result["isError"] is True and name not in json.dumps(result)


# A session id makes the hub leave a request to the SDK's transport (hub.mcp.direct takes only
# requests without one; a stateless SDK server ignores it), so the same call is answered once
# by each path.
SDK_PATH = {"Mcp-Session-Id": "any"}


@pytest.mark.parametrize(
    "body",
    [
        rpc("tools/call", {"name": "no_such_tool", "arguments": {}}),
        rpc("tools/call", {"name": "send_sms", "arguments": {"to": "+1"}}),
        rpc("tools/call", {"name": "hub_query", "arguments": {"type": "nothing"}}),
        rpc("tools/call", {"name": "hub_capabilities", "arguments": {}}),
        rpc("tools/call", {"arguments": {}}),  # no name: the SDK's params validation
        rpc("tools/call", {"name": 7}),
        {"jsonrpc": "2.0", "id": "s-1", "method": "tools/call", "params": {"name": "x"}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call"},  # no params at all
    ],
)
def test_a_tools_call_is_answered_alike_in_the_requests_task_and_by_the_sdk(
    client, app, tenant, body
):
    direct = app.state.mcp.direct
    before = direct.served
    mine = post(client, tenant, body)
    assert direct.served == before + 1, "the hub's own path did not take the request"
    sdk = post(client, tenant, body, **SDK_PATH)
    assert direct.served == before + 1, "the SDK's path was not taken"
    assert (mine.status_code, mine.headers["content-type"]) == (
        sdk.status_code,
        sdk.headers["content-type"],
    )
    assert mine.json() == sdk.json()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (rpc("tools/list", {}), {}),
        (rpc("initialize", {}), {}),
        ([rpc("tools/call", {"name": "hub_capabilities"})], {}),
        ({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "x"}}, {}),  # notification
        (rpc("tools/call", {"name": "hub_capabilities"}), {"MCP-Protocol-Version": "2026-07-28"}),
        (rpc("tools/call", {"name": "hub_capabilities"}), {"Origin": "https://evil.example"}),
        (rpc("tools/call", {"name": "hub_capabilities"}), {"Accept": "text/event-stream"}),
        (rpc("tools/call", {"name": "hub_capabilities"}), {"Content-Type": "text/json"}),
    ],
)
def test_anything_but_a_plain_handshake_era_tools_call_is_left_to_the_sdk(
    client, app, tenant, body, headers
):
    direct = app.state.mcp.direct
    before = direct.served
    post(client, tenant, body, **headers)
    assert direct.served == before
