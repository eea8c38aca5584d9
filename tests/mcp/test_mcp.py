"""The MCP server over streamable HTTP, driven by the SDK's real client against a live hub
(real port, real n8n, the vendor sandbox): tool listing per tenant, calls through the spine,
the permission gate and the authorization queue, tenancy, and bearer-token refusals."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import canary, stripe_credentials, twilio_credentials

LAYER1 = {"hub_capabilities", "hub_query", "hub_action"}
NATIVE = {
    "check_authorization",
    "initiate_integration",
    "suggest_integration",
    "disconnect_integration",
}
SMS = {"to": "+15551234567", "body": "Your window cleaning is tomorrow at 9."}


@asynccontextmanager
async def mcp_http(hub, token: str, mode: str = "auto", **kw: Any) -> AsyncIterator[Client]:
    """The SDK's Client on streamable HTTP with a bearer token."""
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=auth, timeout=60) as hc,
        Client(streamable_http_client(hub.url + "/mcp", http_client=hc), mode=mode, **kw) as c,
    ):
        yield c


def connect(hub, tenant, integration: str, credentials: dict[str, str]) -> dict[str, Any]:
    """live_hub.connect, then wait until the connection is committed (REST commits after
    answering, so an immediate next call could otherwise miss it)."""
    from hub.connections.service import connection_for

    out = hub.connect(tenant, integration, credentials)
    for _ in range(200):
        with hub.runtime.db.session() as s:
            if connection_for(s, tenant.id, integration) is not None:
                return out
        time.sleep(0.01)
    raise AssertionError(f"{integration} connection never appeared")


def revoke_agent(hub, tenant) -> None:
    """Revoke the tenant's agent token (committed when this returns)."""
    from hub.accounts import service as accounts

    with hub.runtime.db.session() as s:
        for tok in accounts.list_tokens(s, tenant.id):
            if tok.kind == "agent":
                accounts.revoke_token(s, tok.id, tenant.id)


def run(fn: Callable[[], Any]) -> Any:
    """Run an async test body."""
    return anyio.run(fn)


def charge_args(amount: int, customer: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": "USD",
        "customer_id": customer,
        "payment_method_id": "pm_card_visa",
    }


def stripe_requests(hub, customer: str) -> list[Any]:
    """Requests the Stripe sandbox received for one customer (unique per test)."""
    return [r for r in hub.sandbox.requests("stripe") if customer.encode() in r.body]


def decide(hub, tenant, queue_id: str, decision: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{hub.url}/api/authorizations/{queue_id}",
        json={"decision": decision, **extra},
        headers=tenant.h("admin"),
        timeout=60,
    )


def names(result: types.ListToolsResult) -> set[str]:
    return {t.name for t in result.tools}


def err_kind(r: types.CallToolResult) -> str:
    assert r.is_error, r
    return r.structured_content["error"]["kind"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_tools_follow_the_tenants_connections(live_hub, mode):
    t = live_hub.tenant()

    async def body() -> None:
        async with mcp_http(live_hub, t.agent, mode) as c:
            before = names(await c.list_tools())
            assert before >= LAYER1 | NATIVE and "send_sms" not in before
            await anyio.to_thread.run_sync(connect, live_hub, t, "twilio", twilio_credentials())
            listed = (
                await c.list_tools(cache_mode="refresh") if mode == "auto" else await c.list_tools()
            )
            tools = {x.name: x for x in listed.tools}
            sms = tools["send_sms"]
            assert "Permission: unrestricted" in sms.description and "twilio" in sms.description
            assert {"to", "body", "reasoning", "idempotency_key"} <= set(
                sms.input_schema["properties"]
            )
            assert "charge_card" not in tools  # Stripe is not connected

    run(body)


def test_send_sms_through_n8n_and_the_sandbox(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "twilio", twilio_credentials())
    body_text = f"Reminder-{secrets.token_hex(4)}"

    async def body() -> dict[str, Any]:
        async with mcp_http(live_hub, t.agent) as c:
            r = await c.call_tool("send_sms", {**SMS, "body": body_text})
            assert not r.is_error, r.content
            out = r.structured_content
            assert out["status"] == "succeeded" and out["run_id"].startswith("run_")
            assert out["data"]["message_id"].startswith("SM")  # the sandbox answers Twilio's shape
            assert out["data"]["message_id"] in r.content[0].text
            q = await c.call_tool(
                "hub_query", {"type": "runs", "id": out["run_id"], "include": ["result"]}
            )
            assert q.structured_content["data"]["status"] == "succeeded"
            assert q.structured_content["data"]["result"]["message_id"] == out["data"]["message_id"]
            return out

    run(body)
    sent = [r for r in live_hub.sandbox.requests("twilio") if body_text.encode() in r.body]
    assert len(sent) == 1 and sent[0].status < 300


def test_soft_limit_without_reasoning_is_a_tool_error(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "stripe", stripe_credentials())
    customer = f"cus_{secrets.token_hex(6)}"

    async def body() -> None:
        async with mcp_http(live_hub, t.agent) as c:
            r = await c.call_tool("charge_card", charge_args(1500, customer))
            assert err_kind(r) == "reasoning_required" and "reasoning" in r.content[0].text
            # hub_action goes through exactly the same gate.
            r = await c.call_tool(
                "hub_action",
                {
                    "domain": "payments",
                    "action": "charge_card",
                    "data": charge_args(1500, customer),
                },
            )
            assert err_kind(r) == "reasoning_required"

    run(body)
    assert stripe_requests(live_hub, customer) == []


def test_charge_over_threshold_waits_for_a_human_then_runs_once(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "stripe", stripe_credentials())
    customer = f"cus_{secrets.token_hex(6)}"
    args = {**charge_args(80000, customer), "reasoning": "Customer approved the 800 USD quote."}
    key = f"job-{secrets.token_hex(4)}"

    async def queue() -> str:
        async with mcp_http(live_hub, t.agent) as c:
            r = await c.call_tool("charge_card", {**args, "idempotency_key": key})
            assert not r.is_error, r.content
            out = r.structured_content
            assert out["status"] == "authorization_required" and out["run_id"] is None
            assert out["queue_id"].startswith("aut_") and "50000" in out["reason"]
            assert "nothing was sent" in out["message"]
            again = await c.call_tool("charge_card", {**args, "idempotency_key": key})
            assert again.structured_content["queue_id"] == out["queue_id"]
            pending = await c.call_tool("check_authorization", {"queue_id": out["queue_id"]})
            assert pending.structured_content["status"] == "pending"
            return out["queue_id"]

    queue_id = run(queue)
    assert stripe_requests(live_hub, customer) == []  # nothing sent while pending

    # Only an admin decides; the agent's own token cannot approve its call.
    r = httpx.post(
        f"{live_hub.url}/api/authorizations/{queue_id}",
        json={"decision": "authorized"},
        headers=t.h("agent"),
    )
    assert r.status_code == 403
    assert stripe_requests(live_hub, customer) == []
    r = decide(live_hub, t, queue_id, "authorized", notes="ok, job done")
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "authorized" and decided["outcome"]["status"] == "succeeded"
    run_id = decided["run_id"]
    assert run_id and decided["outcome"]["data"]["payment_id"]
    assert len(stripe_requests(live_hub, customer)) == 1

    async def collect() -> None:
        async with mcp_http(live_hub, t.agent) as c:
            polled = await c.call_tool("check_authorization", {"queue_id": queue_id})
            out = polled.structured_content
            assert out["status"] == "authorized" and out["run_id"] == run_id
            assert out["outcome"]["status"] == "succeeded"
            retried = await c.call_tool("charge_card", {**args, "idempotency_key": key})
            assert not retried.is_error
            assert retried.structured_content["status"] == "succeeded"
            assert (
                retried.structured_content["run_id"] == run_id
                and retried.structured_content["replayed"]
            )

    run(collect)
    assert len(stripe_requests(live_hub, customer)) == 1  # exactly one charge, after approval
    # A second decision is refused: the call already ran.
    assert decide(live_hub, t, queue_id, "authorized").status_code == 409
    audit = httpx.get(
        f"{live_hub.url}/api/audit?action=authorization.", headers=t.h("admin")
    ).json()
    actions = {row["action"] for row in audit["data"]}
    assert {"authorization.queued", "authorization.authorized", "authorization.executed"} <= actions


def test_denied_call_returns_the_humans_note(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "stripe", stripe_credentials())
    customer = f"cus_{secrets.token_hex(6)}"
    args = {**charge_args(90000, customer), "reasoning": "Deposit for the patio job."}
    key = f"job-{secrets.token_hex(4)}"

    async def queue() -> str:
        async with mcp_http(live_hub, t.agent) as c:
            r = await c.call_tool("charge_card", {**args, "idempotency_key": key})
            return r.structured_content["queue_id"]

    queue_id = run(queue)
    r = decide(live_hub, t, queue_id, "denied", notes="Deposit is 30%, not the full amount.")
    assert r.status_code == 200 and r.json()["status"] == "denied" and r.json()["run_id"] is None

    async def poll() -> None:
        async with mcp_http(live_hub, t.agent) as c:
            polled = await c.call_tool("check_authorization", {"queue_id": queue_id})
            assert polled.structured_content["status"] == "denied"
            assert polled.structured_content["notes"] == "Deposit is 30%, not the full amount."
            assert "30%" in polled.content[0].text
            retried = await c.call_tool("charge_card", {**args, "idempotency_key": key})
            assert err_kind(retried) == "denied" and "30%" in retried.content[0].text
            assert retried.structured_content["error"]["queue_id"] == queue_id

    run(poll)
    assert stripe_requests(live_hub, customer) == []


def test_allow_always_lowers_only_similar_calls(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "stripe", stripe_credentials())
    customer = f"cus_{secrets.token_hex(6)}"
    why = {"reasoning": "Monthly service plan, customer signed up."}

    async def first() -> str:
        async with mcp_http(live_hub, t.agent) as c:
            r = await c.call_tool("charge_card", {**charge_args(70000, customer), **why})
            return r.structured_content["queue_id"]

    queue_id = run(first)
    r = decide(live_hub, t, queue_id, "authorized", upgrade_permission=True)
    assert (
        r.status_code == 200
        and r.json()["override_id"]
        and r.json()["outcome"]["status"] == "succeeded"
    )

    async def later() -> None:
        async with mcp_http(live_hub, t.agent) as c:
            smaller = await c.call_tool("charge_card", {**charge_args(65000, customer), **why})
            assert smaller.structured_content["status"] == "succeeded", smaller.content
            bigger = await c.call_tool("charge_card", {**charge_args(70001, customer), **why})
            assert bigger.structured_content["status"] == "authorization_required"
            euro = {**charge_args(60000, customer), "currency": "EUR", **why}
            assert (await c.call_tool("charge_card", euro)).structured_content[
                "status"
            ] == "authorization_required"
            # The override does not waive the reasoning money needs.
            bare = await c.call_tool("charge_card", charge_args(60000, customer))
            assert err_kind(bare) == "reasoning_required"

    run(later)
    assert len(stripe_requests(live_hub, customer)) == 2
    audit = httpx.get(f"{live_hub.url}/api/audit?action=permission.", headers=t.h("admin")).json()
    applied = [row for row in audit["data"] if row["action"] == "permission.override_applied"]
    assert len(applied) == 1 and applied[0]["details"]["tool"] == "charge_card"
    overrides = httpx.get(f"{live_hub.url}/api/permission-overrides", headers=t.h("admin"))
    overrides = overrides.json()["data"]
    assert overrides[0]["terms"]["at_most"] == {"amount": 70000}


def test_another_tenant_sees_nothing_of_the_first(live_hub):
    a, b = live_hub.tenant("a"), live_hub.tenant("b")
    connect(live_hub, a, "twilio", twilio_credentials())
    connect(live_hub, a, "stripe", stripe_credentials())
    customer = f"cus_{secrets.token_hex(6)}"

    async def body() -> None:
        async with mcp_http(live_hub, a.agent) as ca:
            sent = await ca.call_tool("send_sms", SMS)
            run_id = sent.structured_content["run_id"]
            queued = await ca.call_tool(
                "charge_card", {**charge_args(99000, customer), "reasoning": "big job"}
            )
            queue_id = queued.structured_content["queue_id"]
        async with mcp_http(live_hub, b.agent) as cb:
            tools = names(await cb.list_tools())
            assert "send_sms" not in tools and "charge_card" not in tools
            for kind in ("runs", "authorizations", "connections", "events"):
                q = await cb.call_tool("hub_query", {"type": kind})
                assert q.structured_content["data"] == [], kind
            # The audit log is not an agent's to read at all (hub.core.reads).
            refused = await cb.call_tool("hub_query", {"type": "audit", "include": ["details"]})
            assert err_kind(refused) == "invalid_request"
            assert run_id not in str(refused) and queue_id not in str(refused)
            assert (
                err_kind(await cb.call_tool("check_authorization", {"queue_id": queue_id}))
                == "not_found"
            )
            assert (
                err_kind(await cb.call_tool("hub_query", {"type": "runs", "id": run_id}))
                == "not_found"
            )
            # B calling the tool itself fails on B's own (missing) connection.
            assert err_kind(await cb.call_tool("send_sms", SMS)) == "not_connected"
        # Another agent of tenant A cannot read the first agent's queued call either.
        other_agent = _extra_agent_token(live_hub, a.id)
        async with mcp_http(live_hub, other_agent) as c2:
            assert (
                err_kind(await c2.call_tool("check_authorization", {"queue_id": queue_id}))
                == "not_found"
            )

    run(body)
    assert stripe_requests(live_hub, customer) == []


def _extra_agent_token(hub, tenant_id: str) -> str:
    from hub.accounts import service as accounts

    with hub.runtime.db.session() as s:
        return accounts.create_token(s, tenant_id, "agent", "second agent")[1]


def test_bearer_tokens_are_checked_before_mcp(live_hub):
    t = live_hub.tenant()
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    url = live_hub.url + "/mcp"
    r = httpx.post(url, json=init, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["kind"] == "unauthenticated"
    assert r.headers["www-authenticate"].startswith("Bearer")
    foreign = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJvdGhlci1odWIifQ.c2lnbmF0dXJl"
    for bad in ("hub_agent_not-a-real-token", foreign):
        r = httpx.post(url, json=init, headers={**headers, "Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and r.json()["error"]["kind"] == "unauthenticated"
        assert bad not in r.text
    r = httpx.post(url, json=init, headers={**headers, "Authorization": f"Bearer {t.admin}"})
    assert r.status_code == 403 and r.json()["error"]["kind"] == "forbidden"
    ok = httpx.post(url, json=init, headers={**headers, "Authorization": f"Bearer {t.agent}"})
    assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "agent-hub"
    # DNS-rebinding protection: a foreign Host header is refused by the transport.
    r = httpx.post(
        url,
        json=init,
        headers={**headers, "Authorization": f"Bearer {t.agent}", "Host": "evil.example"},
    )
    assert r.status_code == 421
    # A revoked token stops working at once.
    revoke_agent(live_hub, t)
    r = httpx.post(url, json=init, headers={**headers, "Authorization": f"Bearer {t.agent}"})
    assert r.status_code == 401

    async def sdk_refused() -> None:
        with pytest.raises(Exception):  # noqa: B017 - the SDK surfaces HTTP 401 as an error
            async with mcp_http(live_hub, "hub_agent_nope") as c:
                await c.list_tools()

    run(sdk_refused)
    used = httpx.get(f"{live_hub.url}/api/audit?action=token.used", headers=t.h("admin")).json()[
        "data"
    ]
    assert any(row["details"].get("transport") == "mcp-http" for row in used)


def test_layer1_capabilities_query_and_action(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "twilio", twilio_credentials())

    async def body() -> None:
        async with mcp_http(live_hub, t.agent) as c:
            caps = (await c.call_tool("hub_capabilities", {})).structured_content["data"]
            domains = {d["domain"]: d for d in caps["domains"]}
            assert {"messaging", "payments", "connections", "authorizations"} <= set(domains)
            sms = next(a for a in domains["messaging"]["actions"] if a["name"] == "send_sms")
            assert sms["available"] and sms["permission"] == "unrestricted"
            only = (
                await c.call_tool("hub_capabilities", {"domain": "payments"})
            ).structured_content["data"]
            assert [d["domain"] for d in only["domains"]] == ["payments"]
            assert (
                err_kind(await c.call_tool("hub_capabilities", {"domain": "nope"}))
                == "invalid_request"
            )

            done = await c.call_tool(
                "hub_action", {"domain": "messaging", "action": "send_sms", "data": SMS}
            )
            assert done.structured_content["status"] == "succeeded", done.content
            wrong = await c.call_tool(
                "hub_action", {"domain": "payments", "action": "send_sms", "data": SMS}
            )
            assert err_kind(wrong) == "invalid_request" and "messaging" in wrong.content[0].text

            conns = await c.call_tool(
                "hub_query", {"type": "connections", "include": ["credential_hints"]}
            )
            row = conns.structured_content["data"][0]
            assert row["integration"] == "twilio"
            assert (
                row["credential_hints"]["auth_token"]["hint"].count("*")
                or "..." in row["credential_hints"]["auth_token"]["hint"]
            )
            runs = await c.call_tool(
                "hub_query", {"type": "runs", "filters": {"tool": "send_sms"}, "limit": 1}
            )
            assert (
                runs.structured_content["count"] == 1
                and runs.structured_content["next_cursor"] is None
            )
            bad = await c.call_tool("hub_query", {"type": "runs", "filters": {"colour": "red"}})
            assert err_kind(bad) == "invalid_request" and "status" in bad.content[0].text
            assert (
                err_kind(await c.call_tool("hub_query", {"type": "runs", "limit": 500}))
                == "invalid_request"
            )

            invalid = await c.call_tool("send_sms", {"to": "555", "body": "hi"})
            assert (
                err_kind(invalid) == "invalid_request"
                and "to" in invalid.structured_content["error"]["field"]
            )
            assert err_kind(await c.call_tool("no_such_tool", {})) == "not_found"

            steps = await c.call_tool("initiate_integration", {"integration": "stripe"})
            out = steps.structured_content
            assert out["connected"] is False and out["credential_fields"][0]["name"] == "secret_key"
            assert "/api/connections" in out["next_step"]
            idea = await c.call_tool(
                "suggest_integration", {"need": "take card payments from customers"}
            )
            assert "stripe" in [x["integration"] for x in idea.structured_content["candidates"]]

    run(body)


def test_disconnecting_a_used_integration_needs_a_human(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "twilio", twilio_credentials())

    async def body() -> str:
        async with mcp_http(live_hub, t.agent) as c:
            assert not (await c.call_tool("send_sms", {**SMS, "idempotency_key": "k-sms"})).is_error
            r = await c.call_tool("disconnect_integration", {"integration": "twilio"})
            assert err_kind(r) == "reasoning_required"
            # A run's idempotency key never carries another call past the gate.
            reused = {"integration": "twilio", "reasoning": "x", "idempotency_key": "k-sms"}
            r = await c.call_tool("disconnect_integration", reused)
            assert err_kind(r) == "idempotency_mismatch"
            r = await c.call_tool(
                "disconnect_integration",
                {"integration": "twilio", "reasoning": "We moved SMS to another vendor."},
            )
            out = r.structured_content
            assert out["status"] == "authorization_required" and "1 tool call" in out["reason"]
            return out["queue_id"]

    queue_id = run(body)
    r = decide(live_hub, t, queue_id, "authorized")
    assert r.status_code == 200 and r.json()["outcome"]["status"] == "succeeded", r.text
    assert httpx.get(f"{live_hub.url}/api/connections", headers=t.h("admin")).json()["data"] == []

    async def after() -> None:
        async with mcp_http(live_hub, t.agent) as c:
            assert "send_sms" not in names(await c.list_tools())
            polled = await c.call_tool("check_authorization", {"queue_id": queue_id})
            assert polled.structured_content["outcome"]["data"]["disconnected"] is True

    run(after)


def test_tool_list_changes_reach_listeners_of_that_tenant_only(live_hub):
    a, b = live_hub.tenant("a"), live_hub.tenant("b")

    async def body() -> None:
        async with mcp_http(live_hub, a.agent) as ca, mcp_http(live_hub, b.agent) as cb:
            assert ca.protocol_version == "2026-07-28"
            async with (
                ca.listen(tools_list_changed=True) as sa,
                cb.listen(tools_list_changed=True) as sb,
            ):
                b_events: list[Any] = []

                async def watch_b() -> None:
                    async for ev in sb:
                        b_events.append(ev)

                async with anyio.create_task_group() as tg:
                    tg.start_soon(watch_b)
                    await anyio.to_thread.run_sync(
                        connect, live_hub, a, "twilio", twilio_credentials()
                    )
                    with anyio.fail_after(15):
                        async for event in sa:
                            assert type(event).__name__ == "ToolsListChanged"
                            break
                    assert "send_sms" in names(await ca.list_tools(cache_mode="refresh"))
                    await anyio.sleep(3)  # longer than the watcher's interval
                    tg.cancel_scope.cancel()
                assert b_events == []

    run(body)


def test_no_credential_reaches_any_mcp_answer(live_hub):
    t = live_hub.tenant()
    secret = canary()
    connect(live_hub, t, "twilio", twilio_credentials(auth_token=secret))

    async def body() -> list[str]:
        out: list[str] = []
        async with mcp_http(live_hub, t.agent) as c:
            out.append((await c.list_tools()).model_dump_json())
            answers = [
                await c.call_tool("send_sms", SMS),
                await c.call_tool("send_sms", {"to": "bad", "body": secret}),
                await c.call_tool("hub_capabilities", {}),
                await c.call_tool("initiate_integration", {"integration": "twilio"}),
                await c.call_tool(
                    "hub_query",
                    {
                        "type": "connections",
                        "include": ["credential_hints", "health", "integration"],
                    },
                ),
                await c.call_tool(
                    "hub_query", {"type": "runs", "include": ["args", "result", "error", "events"]}
                ),
                await c.call_tool("hub_query", {"type": "audit", "include": ["details"]}),
            ]
            out += [a.model_dump_json() for a in answers]
            hints = answers[4].structured_content["data"][0]["credential_hints"]
            assert hints["auth_token"] == {"secret": True, "hint": "..." + secret[-4:]}
        return out

    for text in run(body):
        assert secret not in text


def test_query_pages_with_a_cursor(live_hub):
    t = live_hub.tenant()
    connect(live_hub, t, "twilio", twilio_credentials())
    connect(live_hub, t, "stripe", stripe_credentials())

    async def body() -> None:
        async with mcp_http(live_hub, t.agent) as c:
            first = (
                await c.call_tool("hub_query", {"type": "integrations", "limit": 1})
            ).structured_content
            assert first["count"] == 1 and first["next_cursor"]
            args = {"type": "integrations", "limit": 1, "cursor": first["next_cursor"]}
            second = (await c.call_tool("hub_query", args)).structured_content
            assert second["data"][0]["slug"] != first["data"][0]["slug"]
            bad = await c.call_tool("hub_query", {"type": "runs", "cursor": "not-a-cursor"})
            assert err_kind(bad) == "invalid_request"
            conns = await c.call_tool(
                "hub_query", {"type": "integrations", "filters": {"connected": True}}
            )
            assert {i["slug"] for i in conns.structured_content["data"]} == {"twilio", "stripe"}

    run(body)
