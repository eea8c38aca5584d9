"""`hub mcp` over stdio, driven by the SDK's real client as a subprocess against the live
hub's database (n8n redeems grants at the live hub, named by HUB_PUBLIC_URL)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.helpers import stripe_credentials, twilio_credentials
from tests.mcp.test_mcp import LAYER1, NATIVE, SMS, connect, err_kind, names, revoke_agent, run

REPO = Path(__file__).resolve().parents[2]


def stdio_server(hub, token: str, poll: float = 0.3) -> StdioServerParameters:
    """`python -m hub mcp` with the live hub's database, master key and data folder."""
    st = hub.runtime.settings
    env = {
        "HUB_DATABASE_URL": st.resolved_database_url,
        "HUB_MASTER_KEY": st.master_key or "",
        "HUB_DATA_DIR": str(st.data_dir),
        "HUB_PUBLIC_URL": hub.url,
        "HUB_TOKEN": token,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_SCHEDULER_ENABLED": "false",
    }
    return StdioServerParameters(
        command=sys.executable, args=["-m", "hub", "mcp", "--poll", str(poll)], env=env, cwd=REPO
    )


def test_stdio_lists_calls_and_announces_list_changes(live_hub):
    t = live_hub.tenant()
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async def body() -> None:
        async with Client(
            stdio_server(live_hub, t.agent), mode="legacy", message_handler=on_message
        ) as c:
            assert c.server_capabilities.tools.list_changed is True
            before = names(await c.list_tools())
            assert before >= LAYER1 | NATIVE and "send_sms" not in before
            await anyio.to_thread.run_sync(connect, live_hub, t, "twilio", twilio_credentials())
            with anyio.fail_after(15):
                await changed.wait()
            assert "send_sms" in names(await c.list_tools())
            text = f"stdio-{secrets.token_hex(4)}"
            r = await c.call_tool("send_sms", {**SMS, "body": text})
            assert not r.is_error, r.content
            assert r.structured_content["status"] == "succeeded"
            sent = [x for x in live_hub.sandbox.requests("twilio") if text.encode() in x.body]
            assert len(sent) == 1

            await anyio.to_thread.run_sync(connect, live_hub, t, "stripe", stripe_credentials())
            r = await c.call_tool(
                "charge_card",
                {
                    "amount": 1200,
                    "currency": "USD",
                    "customer_id": "cus_x",
                    "payment_method_id": "pm_x",
                },
            )
            assert err_kind(r) == "reasoning_required"

    run(body)
    used = httpx.get(f"{live_hub.url}/api/audit?action=token.used", headers=t.h("admin")).json()[
        "data"
    ]
    assert any(row["details"].get("transport") == "mcp-stdio" for row in used)


def test_stdio_modern_session_listens_and_refuses_a_revoked_token(live_hub):
    t = live_hub.tenant()

    async def body() -> None:
        async with Client(stdio_server(live_hub, t.agent)) as c:
            assert c.protocol_version == "2026-07-28"
            caps = await c.call_tool("hub_capabilities", {"domain": "messaging"})
            assert not caps.is_error
            async with c.listen(tools_list_changed=True) as sub:
                await anyio.to_thread.run_sync(connect, live_hub, t, "twilio", twilio_credentials())
                with anyio.fail_after(15):
                    async for event in sub:
                        assert type(event).__name__ == "ToolsListChanged"
                        break
            assert "send_sms" in names(await c.list_tools(cache_mode="refresh"))
            await anyio.to_thread.run_sync(revoke_agent, live_hub, t)
            r = await c.call_tool("send_sms", SMS)
            assert err_kind(r) == "unauthenticated"

    run(body)


def test_stdio_refuses_to_start_without_a_valid_agent_token(live_hub):
    t = live_hub.tenant()

    async def start(token: str) -> None:
        async with Client(stdio_server(live_hub, token), mode="legacy") as c:
            await c.list_tools()

    for token in ("hub_agent_unknown", t.admin):
        with pytest.raises(Exception):  # noqa: B017 - the process exits before initialize
            run(lambda token=token: start(token))


def test_initiate_asks_a_url_capable_client_to_open_the_connect_link(live_hub):
    """URL-mode elicitation: over stdio the client that can open links is asked to open the
    single-use connect link (the user's answer is in the result); over stateless HTTP, which
    has no back-channel, the same client gets the link in the result instead."""
    from tests.mcp.test_mcp import mcp_http

    t = live_hub.tenant()
    asked: list[types.ElicitRequestURLParams] = []
    answers = iter(["accept", "decline"])

    async def on_elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams), params
        asked.append(params)
        return types.ElicitResult(action=next(answers))

    async def body() -> list[dict[str, Any]]:
        out = []
        async with Client(
            stdio_server(live_hub, t.agent), mode="legacy", elicitation_callback=on_elicit
        ) as c:
            for _ in range(2):
                r = await c.call_tool("initiate_integration", {"integration": "google_calendar"})
                assert not r.is_error, r.content
                out.append(dict(r.structured_content))
        async with mcp_http(live_hub, t.agent, elicitation_callback=on_elicit) as c:
            r = await c.call_tool("initiate_integration", {"integration": "google_calendar"})
            assert not r.is_error, r.content
            out.append(dict(r.structured_content))
        return out

    accepted, declined, over_http = run(body)
    assert [p.url for p in asked] == [accepted["connect_url"], declined["connect_url"]]
    assert all(p.url.startswith(f"{live_hub.url}/connect/") for p in asked)
    assert accepted["connect_url"] != declined["connect_url"]  # each ask is a fresh link
    assert accepted["elicitation"] == "accept" and "agreed" in accepted["next_step"]
    assert declined["elicitation"] == "decline"
    assert declined["connect_url"] in declined["next_step"]  # the link, to pass on instead
    assert "elicitation" not in over_http and over_http["connect_url"] in over_http["next_step"]
    assert len(asked) == 2
