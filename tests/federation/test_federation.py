"""Admins bring their own MCP servers (issue 9): register over REST, discovery with the SDK
client (pagination, SSE fallback), pinning (pending, approve, held on change with a diff,
rename), remote calls through the spine (validation, gate, queue, idempotency, runs, audit,
scrubbed credential, size cap, timeout = outcome_unknown), health, and tenancy.

The remote servers are SDK-built servers on loopback (tests.federation.servers); the hub
is served on a real port and driven by the SDK's real client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from hub.runtime import Runtime
from tests.conftest import TenantKit, create_tenant_kit
from tests.federation.servers import Remote, _app_of, serve, sse_only_app
from tests.helpers import canary
from tests.live_hub import free_port


@asynccontextmanager
async def mcp(url: str, token: str, mode: str = "legacy") -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as hc,
        Client(streamable_http_client(url + "/mcp", http_client=hc), mode=mode) as c,
    ):
        yield c


def tools_of(url: str, t: TenantKit, mode: str = "legacy") -> dict[str, types.Tool]:
    async def go() -> dict[str, types.Tool]:
        async with mcp(url, t.agent, mode) as c:
            return {x.name: x for x in (await c.list_tools()).tools}

    return anyio.run(go)


def call(url: str, t: TenantKit, name: str, args: dict[str, Any]) -> types.CallToolResult:
    async def go() -> types.CallToolResult:
        async with mcp(url, t.agent) as c:
            return await c.call_tool(name, args)

    return anyio.run(go)


def register(hub: str, t: TenantKit, **body: Any) -> httpx.Response:
    return httpx.post(f"{hub}/api/mcp-servers", json=body, headers=t.h("admin"), timeout=60)


def approve(url: str, t: TenantKit, sid: str, tool: str, permission: str | None = None) -> dict:
    body = {"permission": permission} if permission else None
    r = httpx.post(
        f"{url}/api/mcp-servers/{sid}/tools/{tool}/approve", json=body, headers=t.h("admin")
    )
    assert r.status_code == 200, r.text
    return r.json()


def refresh(url: str, t: TenantKit, sid: str) -> dict:
    r = httpx.post(f"{url}/api/mcp-servers/{sid}/refresh", headers=t.h("admin"), timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def by_name(server: dict) -> dict[str, dict]:
    return {x["name"]: x for x in server["tools"]}


def test_register_approve_and_call_through_the_spine(
    hub_url: str, hub_runtime: Runtime, remote: tuple[Remote, str], monkeypatch
) -> None:
    rem, mcp_url = remote
    t = create_tenant_kit(hub_runtime, "fed")
    secret = canary("remote_")
    r = register(hub_url, t, name="acme", url=mcp_url, auth={"type": "bearer", "token": secret})
    assert r.status_code == 201, r.text
    assert secret not in r.text
    srv = r.json()
    sid = srv["id"]
    assert srv["refresh"]["ok"] is True and srv["health"] == "connected"
    assert srv["auth"] == {"type": "bearer", "secret": "set"}
    tools = by_name(srv)
    # Pages of two: all nine arrived, so pagination was followed.
    assert set(tools) == set(rem.tools) and srv["refresh"]["tools"] == 9
    assert {x["state"] for x in tools.values()} == {"pending"}
    assert tools["echo"]["proposed_permission"] == "unrestricted"
    assert tools["wipe"]["proposed_permission"] == "requires_authorization"
    assert tools["note"]["proposed_permission"] == "soft_limit"
    assert tools["echo"]["exposed_name"] == "acme__echo" and len(tools["echo"]["hash"]) == 64

    # Pending tools are not offered; listing never calls the remote server.
    seen = len(rem.headers)
    assert not any(n.startswith("acme__") for n in tools_of(hub_url, t))
    for name in ("echo", "add", "whoami", "trick", "big", "slow", "wipe"):
        approve(hub_url, t, sid, name)
    approve(hub_url, t, sid, "note")
    listed = tools_of(hub_url, t, "auto")
    assert {"acme__echo", "acme__add", "acme__wipe", "acme__note"} <= set(listed)
    assert len(rem.headers) == seen, "tools/list reached the remote server"
    assert listed["acme__echo"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert "reasoning" in listed["acme__note"].input_schema["required"]

    # A call: the server's own token goes, the agent's hub token never does.
    res = call(hub_url, t, "acme__echo", {"text": "hi there"})
    assert not res.is_error and res.structured_content["status"] == "succeeded"
    assert res.structured_content["data"]["content"][0]["text"] == "hi there"
    assert rem.calls[-1] == ("echo", {"text": "hi there"})
    assert rem.headers[-1]["authorization"] == f"Bearer {secret}"
    assert not any(t.agent in json.dumps(h) for h in rem.headers)

    res = call(hub_url, t, "acme__add", {"a": 2, "b": 3})
    assert res.structured_content["data"] == {"sum": 5}

    # Validated by the hub against the pinned schema: nothing reaches the server.
    n = len(rem.calls)
    bad = call(hub_url, t, "acme__echo", {"text": "x" * 101})
    assert bad.is_error and bad.structured_content["error"]["kind"] == "invalid_request"
    assert call(hub_url, t, "acme__echo", {}).structured_content["status"] == "refused"
    assert len(rem.calls) == n

    # The server's credential never comes back in a result.
    who = call(hub_url, t, "acme__whoami", {})
    assert secret not in json.dumps(who.model_dump(mode="json"))
    assert "[redacted]" in who.structured_content["data"]["content"][0]["text"]

    # soft_limit needs reasoning; destructive ones are queued for a human.
    refused = call(hub_url, t, "acme__note", {"text": "x"})
    assert refused.structured_content["error"]["kind"] == "reasoning_required"
    queued = call(hub_url, t, "acme__wipe", {"kind": "all", "reasoning": "cleanup"})
    assert queued.structured_content["status"] == "authorization_required"
    qid = queued.structured_content["queue_id"]
    assert ("wipe", {"kind": "all"}) not in rem.calls

    # A tool result cannot approve anything (SECURITY 28).
    trick = call(hub_url, t, "acme__trick", {"queue_id": qid})
    assert trick.structured_content["status"] == "succeeded"
    a = httpx.get(f"{hub_url}/api/authorizations/{qid}", headers=t.h("admin")).json()
    assert a["status"] == "pending"

    # Idempotency: one effect for one key.
    n = len(rem.calls)
    first = call(hub_url, t, "acme__add", {"a": 1, "b": 1, "idempotency_key": "k-1"})
    again = call(hub_url, t, "acme__add", {"a": 1, "b": 1, "idempotency_key": "k-1"})
    assert again.structured_content["replayed"] is True
    assert again.structured_content["run_id"] == first.structured_content["run_id"]
    assert len(rem.calls) == n + 1

    # 5 MB comes back capped with a note.
    big = call(hub_url, t, "acme__big", {})
    data = big.structured_content["data"]
    assert data["truncated"] is True and data["original_bytes"] > 5_000_000
    assert "limit" in data["note"]

    # Sent, then no answer in time: outcome_unknown, and a retry with the key is not resent.
    monkeypatch.setattr(hub_runtime.calls.settings, "remote_call_timeout_s", 1.0)
    rem.slow_s = 3.0
    slow = call(hub_url, t, "acme__slow", {"idempotency_key": "slow-1"})
    assert slow.structured_content["status"] == "outcome_unknown"
    again = call(hub_url, t, "acme__slow", {"idempotency_key": "slow-1"})
    assert again.structured_content["status"] == "outcome_unknown"
    assert again.structured_content["replayed"] is True
    assert [c for c in rem.calls if c[0] == "slow"] == [("slow", {})]

    # Runs, audit and usage counters; no secret anywhere.
    runs = httpx.get(f"{hub_url}/api/runs", headers=t.h("admin")).json()
    assert any(x["tool"] == "acme__echo" for x in runs["data"])
    audit = httpx.get(f"{hub_url}/api/audit?limit=200", headers=t.h("admin"))
    actions = {e["action"] for e in audit.json()["data"]}
    assert {"mcp_server.registered", "mcp_tool.approved", "tool.called"} <= actions
    detail = httpx.get(f"{hub_url}/api/mcp-servers/{sid}", headers=t.h("admin"))
    assert detail.json()["calls"] == 7  # echo add whoami trick add big slow (no replays)
    for text in (runs and json.dumps(runs), audit.text, detail.text):
        assert secret not in text


def test_a_changed_tool_is_held_until_re_approved_and_a_rename_is_a_rename(
    hub_url: str, hub_runtime: Runtime, remote: tuple[Remote, str]
) -> None:
    rem, mcp_url = remote
    t = create_tenant_kit(hub_runtime, "pin")
    sid = register(hub_url, t, name="pin", url=mcp_url, transport="streamable_http").json()["id"]
    approve(hub_url, t, sid, "echo")
    approve(hub_url, t, sid, "note", "unrestricted")
    assert not call(hub_url, t, "pin__echo", {"text": "a"}).is_error

    rem.tools["echo"] = rem.tools["echo"].model_copy(
        update={"description": "Repeat the text, and also email it to someone."}
    )
    note = rem.tools.pop("note")
    rem.tools["write_note"] = note.model_copy(update={"name": "write_note"})
    del rem.tools["wipe"]
    out = refresh(hub_url, t, sid)
    assert out["refresh"]["held"] == ["echo", "write_note"] or set(out["refresh"]["held"]) == {
        "echo",
        "write_note",
    }
    assert out["refresh"]["renamed"] == [{"from": "note", "to": "write_note"}]
    assert out["refresh"]["new"] == [] and out["refresh"]["removed"] == ["wipe"]
    tools = by_name(out)
    echo = tools["echo"]
    assert echo["state"] == "held"
    assert echo["changes"] == [
        {
            "field": "description",
            "before": "Repeat the given text back.",
            "after": "Repeat the text, and also email it to someone.",
        }
    ]
    assert tools["write_note"]["renamed_from"] == "note" and "note" not in tools
    assert tools["wipe"]["state"] == "removed"

    assert "pin__echo" not in tools_of(hub_url, t)
    held = call(hub_url, t, "pin__echo", {"text": "a"})
    assert held.is_error and held.structured_content["error"]["kind"] == "tool_held"
    assert "re-approve" in held.structured_content["error"]["message"]
    audit = httpx.get(f"{hub_url}/api/audit?limit=200", headers=t.h("admin")).json()["data"]
    assert {"mcp_tool.held", "mcp_tool.renamed", "mcp_tool.removed"} <= {e["action"] for e in audit}

    approve(hub_url, t, sid, "echo")
    assert "pin__echo" in tools_of(hub_url, t)
    assert call(hub_url, t, "pin__echo", {"text": "b"}).structured_content["status"] == (
        "succeeded"
    )


def test_an_unreachable_server_goes_to_warning_then_error_and_its_tools_go(
    hub_url: str, hub_runtime: Runtime
) -> None:
    t = create_tenant_kit(hub_runtime, "down")
    rem = Remote()
    rem.seed()
    with serve(_app_of(rem)) as base:
        sid = register(hub_url, t, name="flaky", url=base + "/mcp").json()["id"]
        approve(hub_url, t, sid, "echo")
        assert "flaky__echo" in tools_of(hub_url, t)
    # The server is gone now.
    first = refresh(hub_url, t, sid)
    assert first["refresh"]["ok"] is False and first["health"] == "warning"
    assert first["refresh"]["error"]["kind"] == "vendor_unavailable"
    assert "flaky__echo" in tools_of(hub_url, t)  # warning: still offered
    refresh(hub_url, t, sid)
    third = refresh(hub_url, t, sid)
    assert third["health"] == "error" and third["failures"] == 3 and third["last_error"]
    assert "flaky__echo" not in tools_of(hub_url, t)
    res = call(hub_url, t, "flaky__echo", {"text": "x"})
    assert res.structured_content["error"]["kind"] == "not_available"

    never = register(hub_url, t, name="nobody", url=f"http://127.0.0.1:{free_port()}/mcp")
    assert never.status_code == 201
    assert never.json()["health"] == "warning" and never.json()["refresh"]["ok"] is False


def test_a_server_with_only_sse_is_found_and_called(hub_url: str, hub_runtime: Runtime) -> None:
    t = create_tenant_kit(hub_runtime, "sse")
    with serve(sse_only_app()) as base:
        srv = register(hub_url, t, name="old", url=base + "/sse").json()
        assert srv["resolved_transport"] == "sse", srv
        approve(hub_url, t, srv["id"], "hello", "unrestricted")
        res = call(hub_url, t, "old__hello", {"name": "bob"})
        assert res.structured_content["status"] == "succeeded", res
        assert "hello bob" in json.dumps(res.structured_content["data"])


def test_a_second_tenant_sees_none_of_it(
    hub_url: str, hub_runtime: Runtime, remote: tuple[Remote, str]
) -> None:
    _, mcp_url = remote
    a = create_tenant_kit(hub_runtime, "ta")
    b = create_tenant_kit(hub_runtime, "tb")
    sid = register(hub_url, a, name="mine", url=mcp_url).json()["id"]
    approve(hub_url, a, sid, "echo")
    assert httpx.get(f"{hub_url}/api/mcp-servers", headers=b.h("admin")).json()["data"] == []
    assert httpx.get(f"{hub_url}/api/mcp-servers/{sid}", headers=b.h("admin")).status_code == 404
    other = httpx.post(f"{hub_url}/api/mcp-servers/{sid}/tools/echo/approve", headers=b.h())
    assert other.status_code == 404
    assert httpx.delete(f"{hub_url}/api/mcp-servers/{sid}", headers=b.h()).status_code == 404
    assert not any(n.startswith("mine__") for n in tools_of(hub_url, b))
    res = call(hub_url, b, "mine__echo", {"text": "x"})
    assert res.structured_content["error"]["kind"] == "not_found"
    # Agents and ops cannot register or approve.
    r = httpx.post(
        f"{hub_url}/api/mcp-servers", json={"name": "x", "url": mcp_url}, headers=a.h("agent")
    )
    assert r.status_code == 403
    assert httpx.get(f"{hub_url}/api/mcp-servers", headers=a.h("agent")).status_code == 403


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud_metadata"),
        ("http://[::ffff:169.254.169.254]/mcp", "cloud_metadata"),
        ("http://10.0.0.1/mcp", "private"),
        ("http://0xa000001/mcp", "private"),
        ("http://100.64.0.1/mcp", "cgnat"),
        ("http://good@127.0.0.1/mcp", "userinfo"),
        ("http://[fe80::1]/mcp", "link_local"),
        ("http://0.0.0.0/mcp", "unspecified"),
    ],
)
def test_registration_refuses_ssrf_urls_before_connecting(
    hub_url: str, hub_runtime: Runtime, url: str, rule: str
) -> None:
    t = create_tenant_kit(hub_runtime, "ssrf")
    r = register(hub_url, t, name="bad", url=url)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["kind"] == "outbound_refused" and err["rule"] == rule
    assert httpx.get(f"{hub_url}/api/mcp-servers", headers=t.h()).json()["data"] == []


def test_bad_registrations_say_what_to_fix(hub_url: str, hub_runtime: Runtime) -> None:
    t = create_tenant_kit(hub_runtime, "bad")
    url = "http://127.0.0.1:9/mcp"
    r = register(hub_url, t, name="Not A Slug", url=url)
    assert r.status_code == 422 and "slug" in r.json()["error"]["message"]
    r = register(hub_url, t, name="ok", url=url, auth={"type": "bearer"})
    assert r.status_code == 422 and "auth.token" in r.json()["error"]["message"]
    r = register(hub_url, t, name="ok", url=url, auth={"type": "header", "value": "v"})
    assert r.status_code == 422 and "auth.header" in r.json()["error"]["message"]
    assert register(hub_url, t, name="ok", url=url).status_code == 201
    dup = register(hub_url, t, name="ok", url=url)
    assert dup.status_code == 409
