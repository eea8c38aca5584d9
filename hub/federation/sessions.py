"""Kept connections to stateless remote MCP servers: one small pool per server per event loop.

A server that speaks the stateless 2026-07-28 revision over streamable HTTP answers each
`tools/call` on its own POST, with nothing held between calls. The hub keeps the TCP (and
TLS) connection of such a server open and writes each call on it as bytes
(hub.federation.wire) instead of running the SDK's client per call: that client's tasks,
streams, models and a thread hop for the outbound check cost more than the call on a fast
server. A 2025-11-25 server's session id dies with the server's restart, and a call on a dead
one fails in a way that does not prove the tool never ran, so those servers (and the SSE
transport) keep the SDK's client, one session per call (discovery.call).

The outbound guard checks the URL each time a connection is opened, and the connection goes
to the address it checked; a kept connection is to an address already checked. A connection
is kept only after a complete answer, for at most `keep_s` idle (below the 2 s keep-alive of
the most impatient common servers: a server closing an idle connection under a call in flight
would make that call's outcome unknown). A pool is dropped when its server's address,
credential or allow-list changes, and closed with the process. A call that was sent and timed
out is outcome_unknown: nothing here resends. A redirect hands the server to the SDK's client
for as long as the pool lives (it knows which redirects to follow).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import mcp_types as types

from hub.core.errors import HubError
from hub.core.hop import NotSent, OutcomeUnknown
from hub.core.keepalive import Connection, Idle, Lost, connect
from hub.core.outbound import Allow, Target, check_url, tls_context
from hub.federation import discovery, wire
from hub.federation.discovery import MODERN, Endpoint

KEEP_S = 1.5
# The largest answer read from a remote server; the run keeps at most 256 KiB of it (capped).
MAX_ANSWER_BYTES = 32 * 1024 * 1024

Key = tuple[str, str, str, Allow, float]


@dataclass(eq=False)
class _Pool:
    """The kept connections of one server, as one endpoint reaches it."""

    server_id: str
    idle: Idle
    redirected: bool = False  # the server redirects: calls go through the SDK's client
    next_id: int = 0
    target: Target | None = field(default=None, repr=False)


def _key(server_id: str, ep: Endpoint) -> Key:
    # The credential is part of the key (as a digest: keys can end up in a debugger).
    cred = hashlib.sha256(repr(sorted(ep.headers.items())).encode()).hexdigest()
    return (server_id, ep.url, cred, ep.allow, ep.timeout_s)


class Sessions:
    """The kept connections of one process, per event loop."""

    def __init__(self, keep_s: float = KEEP_S) -> None:
        self.keep_s = keep_s
        self._loops: dict[asyncio.AbstractEventLoop, dict[Key, _Pool]] = {}

    @staticmethod
    def fits(ep: Endpoint, transport: str) -> bool:
        """Whether calls to this server go on kept connections (stateless streamable HTTP)."""
        return ep.protocol == MODERN and transport != "sse"

    def _pools(self) -> dict[Key, _Pool]:
        for loop in [lp for lp in self._loops if lp.is_closed()]:
            del self._loops[loop]  # a finished loop took its connections with it
        return self._loops.setdefault(asyncio.get_running_loop(), {})

    def __len__(self) -> int:
        """Open idle connections on the running loop (0 without one)."""
        try:
            return sum(len(p.idle) for p in self._pools().values())
        except RuntimeError:  # no running loop
            return 0

    async def call(
        self,
        server_id: str,
        ep: Endpoint,
        transport: str,
        name: str,
        arguments: dict[str, Any],
        on_list_changed: Callable[[], None] | None = None,
        output_schema: dict[str, Any] | None = None,
    ) -> types.CallToolResult:
        """Call one remote tool on a kept connection (opened when needed); the outcomes are
        discovery.call's: NotSent, OutcomeUnknown, RemoteError or a result."""
        pool = self._pool(server_id, ep)
        if not pool.redirected and wire.writable(ep.url, ep.headers, name):
            try:
                return await self._post(pool, ep, name, arguments, on_list_changed, output_schema)
            except wire.Redirected:
                pool.redirected = True  # nothing ran; the SDK's client takes it from here
        return await discovery.call(
            ep, transport, name, arguments, on_list_changed, output_schema=output_schema
        )

    async def _post(
        self,
        pool: _Pool,
        ep: Endpoint,
        name: str,
        arguments: dict[str, Any],
        on_list_changed: Callable[[], None] | None,
        output_schema: dict[str, Any] | None,
    ) -> types.CallToolResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ep.timeout_s
        conn = pool.idle.take() or await self._open(pool, ep)
        assert pool.target is not None
        pool.next_id += 1
        rid = pool.next_id
        data = wire.request(pool.target, ep.url, ep.headers, name, arguments, rid)
        held, pick = wire.feed_for(rid)
        try:
            answer = await conn.exchange(data, deadline - loop.time(), pick)
        except TimeoutError:
            raise OutcomeUnknown(
                f"the MCP server did not answer within {ep.timeout_s:g} s after the call was sent"
            ) from None
        except Lost as exc:
            raise OutcomeUnknown(f"the call was sent but no answer came ({exc})") from None
        pool.idle.put(conn, answer.keep_alive)
        feed = held[0] if held else None
        if feed is not None and feed.list_changed and on_list_changed is not None:
            on_list_changed()
        result = wire.result_of(answer, feed, rid)
        wire.check_output(name, output_schema, result)
        return result

    async def _open(self, pool: _Pool, ep: Endpoint) -> Connection:
        """A new connection to the address the guard checked just now."""
        try:
            with anyio.fail_after(ep.timeout_s):
                target = await anyio.to_thread.run_sync(check_url, ep.url, ep.allow)
                https = target.scheme == "https"
                conn = await connect(
                    target.ip,
                    target.port,
                    tls_context() if https else None,
                    server_hostname=target.host,
                    timeout_s=ep.timeout_s,
                    max_bytes=MAX_ANSWER_BYTES,
                )
        except HubError as exc:
            raise NotSent(exc.message) from None
        except TimeoutError:
            raise NotSent(
                f"could not reach the MCP server within {ep.timeout_s:g} s "
                f"({urlsplit(ep.url).hostname})"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise NotSent(f"could not reach the MCP server ({type(exc).__name__})") from None
        pool.target = target
        return conn

    def _pool(self, server_id: str, ep: Endpoint) -> _Pool:
        pools = self._pools()
        key = _key(server_id, ep)
        pool = pools.get(key)
        if pool is not None:
            return pool
        for k, old in list(pools.items()):
            if old.server_id == server_id:  # a new address, credential or allow-list
                old.idle.close()
                del pools[k]
        pool = pools[key] = _Pool(server_id, Idle(self.keep_s, max_idle=16))
        return pool

    async def aclose(self) -> None:
        """Close this loop's kept connections (process shutdown)."""
        pools = self._pools()
        for p in pools.values():
            p.idle.close()
        pools.clear()
