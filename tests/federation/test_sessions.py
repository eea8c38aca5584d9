"""Kept connections to stateless remote MCP servers (hub.federation.sessions), against the
tests' SDK-built server (it speaks the 2026-07-28 revision) and a bare endpoint with answers
the SDK's server does not give: one TCP connection carries consecutive calls; a call that
timed out after it was sent is not resent and its connection is dropped; a new credential
gets a new connection; streamed answers, redirects, error statuses and off-schema results
mean what they mean through the SDK's client; connections close with the process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest

from hub.core.hop import OutcomeUnknown
from hub.core.outbound import parse_allow
from hub.federation import wire
from hub.federation.discovery import MODERN, Endpoint, RemoteError
from hub.federation.sessions import Sessions
from hub.runtime import Runtime
from tests.conftest import create_tenant_kit
from tests.federation.servers import Remote, serve
from tests.federation.test_federation import approve, call, mcp, register


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


def test_a_changed_credential_opens_a_new_connection_and_closes_the_old(
    remote: tuple[Remote, str],
) -> None:
    rem, mcp_url = remote
    allow = parse_allow("127.0.0.0/8")
    old = Endpoint(mcp_url, "streamable_http", allow, {"Authorization": "Bearer a"}, 5.0, MODERN)
    new = Endpoint(mcp_url, "streamable_http", allow, {"Authorization": "Bearer b"}, 5.0, MODERN)
    sessions = Sessions()

    async def body() -> None:
        await sessions.call("srv", old, "streamable_http", "whoami", {})
        await sessions.call("srv", old, "streamable_http", "whoami", {})
        assert len(sessions) == 1
        await sessions.call("srv", new, "streamable_http", "whoami", {})
        assert len(sessions) == 1  # the old credential's connection was closed, not kept
        await sessions.aclose()
        assert len(sessions) == 0

    anyio.run(body)
    got = [h.get("authorization") for h, (m, _) in zip(rem.headers, rem.peers, strict=True) if m]
    assert got == ["Bearer a", "Bearer a", "Bearer b"]
    ports = call_ports(rem)
    assert ports[0] == ports[1] != ports[2], ports


def _wire_app(seen: list[tuple[str, int]]) -> Any:
    """A bare-ASGI stateless MCP endpoint whose answers the SDK's server would not give:
    an event stream with a notification first, kept open after the answer (/stream); a
    redirect to it (/moved); HTTP 500 (/broken); a result off its output schema (/off)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        path = scope["path"]
        seen.append((path, int(scope["client"][1])))
        rid = json.loads(body)["id"] if body else None
        result = {
            "content": [{"type": "text", "text": "done"}],
            "structuredContent": {"n": 1},
            "resultType": "complete",
        }
        if path == "/moved":
            loc = [(b"location", b"/stream")]
            await send({"type": "http.response.start", "status": 307, "headers": loc})
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/broken":
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"oops"})
            return
        if path == "/off":
            answer = {"jsonrpc": "2.0", "id": rid, "result": {**result, "structuredContent": {}}}
            ctype = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": ctype})
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return
        ctype = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": ctype})
        note = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
        answer = {"jsonrpc": "2.0", "id": rid, "result": result}
        text = json.dumps(answer)
        cut = text.index(", ") + 1  # a two-line data field, split between JSON tokens
        chunks = [
            f"event: message\r\ndata: {json.dumps(note)}\r\n\r\n: a comment\r\n\r",
            f"\nid: 7\nretry: 100\ndata: {text[:cut]}\ndata: ",
            f"{text[cut:]}\n\n",
        ]
        for c in chunks:
            await send({"type": "http.response.body", "body": c.encode(), "more_body": True})
        await anyio.sleep(5)  # the stream stays open: the hub must not wait for its end

    return app


def test_the_kept_connection_reads_streams_redirects_and_errors_as_the_sdk_client_does() -> None:
    seen: list[tuple[str, int]] = []
    allow = parse_allow("127.0.0.0/8")
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    with serve(_wire_app(seen)) as base:

        def ep(path: str) -> Endpoint:
            return Endpoint(base + path, "streamable_http", allow, {}, 5.0, MODERN)

        sessions = Sessions()
        changed: list[str] = []

        async def body() -> None:
            for _ in range(2):  # the answer is read at once, though the stream stays open
                with anyio.fail_after(3):
                    got = await sessions.call(
                        "s",
                        ep("/stream"),
                        "streamable_http",
                        "t",
                        {},
                        on_list_changed=lambda: changed.append("yes"),
                        output_schema=schema,
                    )
                assert got.structured_content == {"n": 1}
            assert len(sessions) == 0  # a half-read stream's connection is not kept
            with pytest.raises(RemoteError) as broken:
                await sessions.call("b", ep("/broken"), "streamable_http", "t", {})
            assert broken.value.code == types.INTERNAL_ERROR
            with pytest.raises(OutcomeUnknown, match="does not match its pinned output schema"):
                await sessions.call("o", ep("/off"), "streamable_http", "t", {}, None, schema)
            # A redirect: nothing ran there; the SDK's client follows it within the origin.
            moved = await sessions.call("m", ep("/moved"), "streamable_http", "t", {})
            assert moved.structured_content == {"n": 1}
            await sessions.aclose()

        anyio.run(body)
    assert changed == ["yes", "yes"]
    stream_ports = [p for path, p in seen if path == "/stream"]
    assert len(set(stream_ports[:2])) == 2
    assert [path for path, _ in seen][-2:] == ["/moved", "/stream"]


def test_a_runs_end_is_recorded_by_the_time_its_answer_can_be_read(
    hub_url: str, hub_runtime: Runtime, remote: tuple[Remote, str]
) -> None:
    """The run's end is written after the answer is sent (hub.core.afterwards), before the
    hub serves anything else: a read right after the answer sees it, on every MCP path."""
    _, mcp_url = remote
    t = create_tenant_kit(hub_runtime, "ended")
    sid = register(hub_url, t, name="ended", url=mcp_url).json()["id"]
    approve(hub_url, t, sid, "add")
    headers = {
        "Authorization": f"Bearer {t.agent}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    run_ids = []
    for i in range(3):  # one JSON-RPC POST with no session: the endpoint's direct path
        body = {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "ended__add", "arguments": {"a": i, "b": 1}},
        }
        r = httpx.post(f"{hub_url}/mcp", json=body, headers=headers)
        run_ids.append(r.json()["result"]["structuredContent"]["run_id"])
    for mode in ("legacy", MODERN):  # the SDK's own paths (a session; stateless)

        async def go(mode: str = mode) -> types.CallToolResult:
            async with mcp(hub_url, t.agent, mode) as c:
                return await c.call_tool("ended__add", {"a": 5, "b": 1})

        run_ids.append(anyio.run(go).structured_content["run_id"])
    for run_id in run_ids:
        run = httpx.get(f"{hub_url}/api/runs/{run_id}", headers=t.h("admin")).json()
        assert run["status"] == "succeeded", run
        audit = httpx.get(f"{hub_url}/api/audit?run_id={run_id}", headers=t.h("admin")).json()
        assert {"tool.called", "tool.succeeded"} <= {e["action"] for e in audit["data"]}


def test_only_what_can_be_written_as_it_is_goes_on_the_kept_connection() -> None:
    ok = "http://127.0.0.1:8000/mcp?x=1"
    assert wire.writable(ok, {"Authorization": "Bearer abc"}, "add")
    # Anything that could split a request line or header, or needs encoding, goes through
    # the SDK's client (which refuses or encodes it) instead of being written by hand.
    assert not wire.writable("http://127.0.0.1/mcp\r\nX-Evil: 1", {}, "add")
    assert not wire.writable("http://127.0.0.1/m cp", {}, "add")
    assert not wire.writable("http://bücher.example/mcp", {}, "add")
    assert not wire.writable(ok, {"Authorization": "Bearer a\r\nX-Evil: 1"}, "add")
    assert not wire.writable(ok, {"Bad Name": "v"}, "add")
    assert not wire.writable(ok, {}, "add\nX-Evil: 1")


def test_concurrent_calls_each_get_their_own_answer(remote: tuple[Remote, str]) -> None:
    rem, mcp_url = remote
    ep = Endpoint(mcp_url, "streamable_http", parse_allow("127.0.0.0/8"), {}, 10.0, MODERN)
    sessions = Sessions()

    async def body() -> list[Any]:
        async def one(i: int) -> Any:
            r = await sessions.call("srv", ep, "streamable_http", "add", {"a": i, "b": 1000})
            return r.structured_content

        got = await asyncio.gather(*(one(i) for i in range(12)))
        kept = len(sessions)
        await sessions.aclose()
        return [got, kept]

    got, kept = anyio.run(body)
    assert got == [{"sum": i + 1000} for i in range(12)]
    assert 0 < kept <= 12  # the connections the burst opened, kept for the next calls
    assert len(set(call_ports(rem))) == kept
