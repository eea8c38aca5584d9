"""tools/list answered from kept bytes (hub.mcp.listing): the same answer the SDK gives,
never stale, never another tenant's, never to a request the SDK would refuse."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.helpers import twilio_credentials
from tests.mcp.test_mcp import connect, mcp_http, names, run

LEGACY = "2025-11-25"
MODERN = "2026-07-28"


def listing(hub, token: str, rid: Any = 1, version: str = LEGACY, **headers: str) -> httpx.Response:
    """One raw tools/list POST."""
    h = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": version,
        **headers,
    }
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": "tools/list", "params": {}}
    if version == MODERN:  # stateless: each request says who the client is, and its method
        h.setdefault("Mcp-Method", "tools/list")
        body["params"] = {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        }
    return httpx.post(hub.url + "/mcp", json=body, headers=h, timeout=60)


def kept(hub) -> int:
    return len(hub.server.config.app.state.mcp.listings)


def tool_names(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {t["name"] for t in r.json()["result"]["tools"]}


def test_a_repeated_listing_is_the_sdks_answer_under_the_new_id(live_hub):
    t = live_hub.tenant()
    shape = {"X-Shape": secrets.token_hex(4)}  # a request shape no other test sent
    n = kept(live_hub)
    first = listing(live_hub, t.agent, rid=7, **shape)
    assert kept(live_hub) == n + 1
    again = listing(live_hub, t.agent, rid="abc-1", **shape)
    assert kept(live_hub) == n + 1  # served from what the first kept, not kept twice
    assert again.status_code == 200 and again.json()["id"] == "abc-1"
    assert first.json()["id"] == 7
    assert again.json()["result"] == first.json()["result"]
    assert again.headers["content-type"].startswith("application/json")
    assert int(again.headers["content-length"]) == len(again.content)


def test_a_connection_change_shows_at_once(live_hub):
    t = live_hub.tenant()
    assert "send_sms" not in tool_names(listing(live_hub, t.agent))
    assert "send_sms" not in tool_names(listing(live_hub, t.agent))  # now from kept bytes
    connect(live_hub, t, "twilio", twilio_credentials())
    assert "send_sms" in tool_names(listing(live_hub, t.agent))


def test_each_tenant_gets_its_own_listing(live_hub):
    a, b = live_hub.tenant(), live_hub.tenant()
    connect(live_hub, a, "twilio", twilio_credentials())
    assert "send_sms" in tool_names(listing(live_hub, a.agent))
    assert "send_sms" not in tool_names(listing(live_hub, b.agent))
    assert "send_sms" in tool_names(listing(live_hub, a.agent))


def test_each_protocol_revision_gets_its_own_shape(live_hub):
    t = live_hub.tenant()
    for _ in range(2):  # the second round comes from kept bytes
        legacy = listing(live_hub, t.agent, version=LEGACY).json()["result"]
        m = listing(live_hub, t.agent, version=MODERN)
        assert m.status_code == 200, m.text
        modern = m.json()["result"]
        assert "resultType" not in legacy
        assert modern["resultType"] == "complete"
        assert {x["name"] for x in legacy["tools"]} == {x["name"] for x in modern["tools"]}


def test_what_the_sdk_refuses_stays_refused_after_a_kept_answer(live_hub):
    t = live_hub.tenant()
    assert listing(live_hub, t.agent).status_code == 200
    assert listing(live_hub, t.agent).status_code == 200
    wrong_accept = listing(live_hub, t.agent, Accept="text/html")
    assert wrong_accept.status_code == 406, wrong_accept.text
    assert listing(live_hub, t.agent, Host="evil.example").status_code == 421
    assert listing(live_hub, t.agent, Origin="https://evil.example").status_code == 403
    bad_version = listing(live_hub, t.agent, version="1999-01-01")
    assert bad_version.status_code == 400, bad_version.text
    revoked = live_hub.tenant()
    assert listing(live_hub, revoked.agent).status_code == 200
    from tests.mcp.test_mcp import revoke_agent

    revoke_agent(live_hub, revoked)
    assert listing(live_hub, revoked.agent).status_code == 401


def test_sdk_clients_of_both_revisions_list_the_same_tools(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "twilio", twilio_credentials())

    async def body() -> set[str]:
        seen = []
        for mode in ("auto", "legacy", "auto", "legacy"):
            async with mcp_http(live_hub, t.agent, mode) as c:
                seen.append(names(await c.list_tools()))
        assert all(s == seen[0] for s in seen), seen
        return seen[0]

    assert "send_sms" in run(body)
