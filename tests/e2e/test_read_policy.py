"""One read policy for REST and MCP (hub.core.reads): the audit log is for admins and ops."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import TenantKit
from tests.mcp.test_refusals import call, post, rpc


def test_agents_read_no_audit_log_over_rest_or_mcp(client, tenant: TenantKit):
    assert client.get("/api/audit", headers=tenant.h("ops")).status_code == 200
    assert client.get("/api/audit", headers=tenant.h("admin")).status_code == 200
    rest = client.get("/api/audit", headers=tenant.h("agent"))
    assert rest.status_code == 403 and rest.json()["error"]["kind"] == "forbidden"
    mcp = call(client, tenant, "hub_query", {"type": "audit", "include": ["details"]})
    assert mcp["isError"] is True
    assert "audit" not in json.dumps(mcp["structuredContent"].get("data", ""))


def test_what_agents_are_offered_matches_what_they_may_read(client, tenant: TenantKit):
    listed = post(client, tenant, rpc("tools/list", {})).json()["result"]["tools"]
    query = next(t for t in listed if t["name"] == "hub_query")
    assert "audit" not in query["inputSchema"]["properties"]["type"]["enum"]
    caps: dict[str, Any] = call(client, tenant, "hub_capabilities", {})["structuredContent"]
    assert "audit" not in {d["type"] for d in caps["data"]["data_types"]}
    as_agent = client.get("/api/capabilities", headers=tenant.h("agent")).json()
    as_admin = client.get("/api/capabilities", headers=tenant.h("admin")).json()
    assert "audit" not in {d["type"] for d in as_agent["data"]["data_types"]}
    assert "audit" in {d["type"] for d in as_admin["data"]["data_types"]}
