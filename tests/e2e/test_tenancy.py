"""Every REST route, called with another tenant's token, answers 404 and leaks nothing."""

from __future__ import annotations

import re

from tests.helpers import api_routes, twilio_credentials

# Path parameters naming tenant-owned rows -> how to get tenant A's value.
# Global catalog parameters (integration slug, tool name) are public by design.
GLOBAL_PARAMS = {"slug", "name", "integration"}


def tenant_a_values(client, a, rt) -> dict[str, str]:
    """Create one of each tenant-owned object for tenant A and return their ids."""
    from hub.runs.models import Run

    with rt.db.session() as s:
        run = Run(
            tenant_id=a.id,
            caller="test",
            tool="send_sms",
            args={},
            args_hash="0" * 64,
            status="succeeded",
            result={"sid": "SM1"},
        )
        s.add(run)
        s.flush()
        run_id = run.id
    conn = client.post(
        "/api/connections",
        json={"integration": "twilio", "credentials": twilio_credentials()},
        headers=a.h("admin"),
    ).json()
    tokens = client.get("/api/tokens", headers=a.h("admin")).json()
    event_id = _stored_event(client, a)
    auth_id, override_id = _authorization_and_override(rt, a.id, tokens[0]["id"])
    notification_id = _notification(rt, a.id)
    server_id = _mcp_server_with_a_tool(rt, a.id)
    return {
        "server_id": server_id,
        "tool": "echo",
        "connection_id": conn["id"],
        "token_id": tokens[0]["id"],
        "run_id": run_id,
        "auth_id": auth_id,
        "override_id": override_id,
        "event_id": event_id,
        "notification_id": notification_id,
    }


def _notification(rt, tenant_id: str) -> str:
    """An unread alert of tenant A (hub.connections)."""
    from hub.connections.models import Notification

    with rt.db.session() as s:
        n = Notification(tenant_id=tenant_id, kind="connection_error", title="t", body="b")
        s.add(n)
        s.flush()
        return n.id


def _stored_event(client, a) -> str:
    """An inbound Stripe event of tenant A, through the door (hub.webhooks)."""
    from tests.webhooks import kit

    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, a, secret)
    body = kit.stripe_event()
    r = client.post(path, content=body, headers=kit.stripe_headers(body, secret))
    assert r.status_code == 200, r.text
    return r.json()["event_id"]


def _authorization_and_override(rt, tenant_id: str, token_id: str) -> tuple[str, str]:
    """A queued call and an Allow Always override of tenant A (hub.permissions)."""
    from hub.db.base import utcnow
    from hub.permissions.models import Authorization, PermissionOverride

    with rt.db.session() as s:
        auth = Authorization(
            tenant_id=tenant_id,
            token_id=token_id,
            caller=f"token:{token_id}",
            tool="send_sms",
            args={},
            args_hash="0" * 64,
            reason="test",
            rules=[],
            expires_at=utcnow(),
        )
        s.add(auth)
        s.flush()
        ov = PermissionOverride(
            tenant_id=tenant_id,
            tool="send_sms",
            terms={},
            authorization_id=auth.id,
            created_by="test",
        )
        s.add(ov)
        s.flush()
        return auth.id, ov.id


def _mcp_server_with_a_tool(rt, tenant_id: str) -> str:
    """A registered MCP server of the tenant with one pending tool (no connection made)."""
    from hub.core.outbound import parse_allow
    from hub.federation import service
    from hub.federation.models import McpTool

    with rt.db.session() as s:
        m = service.register(
            s,
            rt.vault,
            tenant_id,
            "test",
            name="tenancy",
            url="http://127.0.0.1:9/mcp",
            allow=parse_allow("127.0.0.0/8"),
        )
        d = {"name": "echo", "description": "Echo.", "input_schema": {"type": "object"}}
        s.add(
            McpTool(
                server_id=m.id,
                tenant_id=tenant_id,
                name="echo",
                exposed_name="tenancy__echo",
                definition=d,
                hash="0" * 64,
                proposed_permission="soft_limit",
            )
        )
        return m.id


def test_every_route_refuses_another_tenants_rows(app, client, tenant, other_tenant, hub_runtime):
    a, b = tenant, other_tenant
    values = tenant_a_values(client, a, hub_runtime)
    checked = 0
    for route in api_routes(app):
        if not route.path.startswith("/api"):
            continue
        params = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        owned = [p for p in params if p not in GLOBAL_PARAMS]
        for method in route.methods - {"HEAD", "OPTIONS"}:
            if not owned:
                if method == "GET":
                    path = route.path.format(**{p: "twilio" for p in params})
                    r = client.get(path, headers=b.h("admin"))
                    for v in values.values():
                        assert v not in r.text, f"{method} {path} shows tenant A's {v}"
                    checked += 1
                continue
            missing = [p for p in owned if p not in values]
            assert not missing, f"add tenant-owned parameter {missing} of {route.path} to this test"
            path = route.path.format(**{p: values.get(p, "twilio") for p in params})
            r = client.request(method, path, headers=b.h("admin"), json={})
            assert r.status_code == 404, f"{method} {path} with tenant B's token: {r.status_code}"
            assert r.json()["error"]["kind"] == "not_found"
            checked += 1
    assert checked >= 8
    # Tenant A's rows are intact after B's attempts.
    r = client.get(f"/api/connections/{values['connection_id']}", headers=a.h("admin"))
    assert r.status_code == 200
    assert any(
        t["id"] == values["token_id"] and t["revoked_at"] is None
        for t in client.get("/api/tokens", headers=a.h("admin")).json()
    )


def test_lists_show_only_own_rows(client, tenant, other_tenant, hub_runtime):
    tenant_a_values(client, tenant, hub_runtime)
    assert client.get("/api/runs", headers=other_tenant.h("admin")).json()["data"] == []
    assert client.get("/api/connections", headers=other_tenant.h("admin")).json()["data"] == []
    audit = client.get("/api/audit", headers=other_tenant.h("admin")).json()["data"]
    assert all(tenant.id not in str(row) for row in audit)
