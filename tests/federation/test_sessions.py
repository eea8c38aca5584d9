"""Kept-open sessions to remote MCP servers (hub.federation.sessions), against the tests'
SDK-built server (it speaks the stateless 2026-07-28 revision): one TCP connection carries
consecutive calls; a call that timed out after it was sent is not resent and its session is
dropped; sessions close with the process."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from hub.core.hop import OutcomeUnknown
from hub.core.outbound import parse_allow
from hub.federation.discovery import MODERN, Endpoint
from hub.federation.sessions import Sessions
from hub.runtime import Runtime
from tests.conftest import create_tenant_kit
from tests.federation.servers import Remote
from tests.federation.test_federation import approve, call, register


def call_ports(rem: Remote) -> list[int]:
    """The client port of each tools/call request the server received."""
    return [port for method, port in rem.peers if method == "tools/call"]


def test_consecutive_calls_through_the_hub_share_one_connection(
    hub_url: str, hub_runtime: Runtime, remote: tuple[Remote, str]
) -> None:
    rem, mcp_url = remote
    t = create_tenant_kit(hub_runtime, "kept")
    r = register(hub_url, t, name="kept", url=mcp_url)
    assert r.status_code == 201, r.text
    assert r.json()["protocol"] == MODERN
    approve(hub_url, t, r.json()["id"], "add")
    for i in range(4):
        res = call(hub_url, t, "kept__add", {"a": i, "b": 1})
        assert res.structured_content["data"] == {"sum": i + 1}
    ports = call_ports(rem)
    assert len(ports) == 4 and len(set(ports)) == 1, ports


def test_a_timed_out_call_is_not_resent_and_its_session_is_dropped(
    remote: tuple[Remote, str],
) -> None:
    rem, mcp_url = remote
    rem.slow_s = 3.0
    ep = Endpoint(
        url=mcp_url,
        transport="streamable_http",
        allow=parse_allow("127.0.0.0/8"),
        timeout_s=1.0,
        protocol=MODERN,
    )
    sessions = Sessions()

    async def body() -> None:
        first = await sessions.call("srv", ep, "streamable_http", "add", {"a": 1, "b": 2})
        assert first.structured_content == {"sum": 3}
        with pytest.raises(OutcomeUnknown):
            await sessions.call("srv", ep, "streamable_http", "slow", {})
        again = await sessions.call("srv", ep, "streamable_http", "add", {"a": 2, "b": 2})
        assert again.structured_content == {"sum": 4}
        assert len(sessions) == 1
        await sessions.aclose()
        assert len(sessions) == 0

    anyio.run(body)
    assert [c for c in rem.calls if c[0] == "slow"] == [("slow", {})]  # never resent
    add_ports = [p for p, c in zip(call_ports(rem), rem.calls, strict=True) if c[0] == "add"]
    assert len(set(add_ports)) == 2, "the session of the timed-out call was kept"


def test_a_changed_credential_opens_a_new_session_and_closes_the_old(
    remote: tuple[Remote, str],
) -> None:
    rem, mcp_url = remote
    allow = parse_allow("127.0.0.0/8")
    old = Endpoint(mcp_url, "streamable_http", allow, {"Authorization": "Bearer a"}, 5.0, MODERN)
    new = Endpoint(mcp_url, "streamable_http", allow, {"Authorization": "Bearer b"}, 5.0, MODERN)
    sessions = Sessions()

    async def body() -> list[asyncio.Task[None]]:
        await sessions.call("srv", old, "streamable_http", "whoami", {})
        tasks = [k.task for k in sessions._pool().values() if k.task is not None]
        await sessions.call("srv", new, "streamable_http", "whoami", {})
        await asyncio.sleep(0.2)  # the old session's task closes on its own
        assert len(sessions) == 1 and all(t.done() for t in tasks)
        await sessions.aclose()
        return tasks

    anyio.run(body)
    got = [h.get("authorization") for h, (m, _) in zip(rem.headers, rem.peers, strict=True) if m]
    assert got == ["Bearer a", "Bearer b"]
