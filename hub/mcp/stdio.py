"""`hub mcp`: the same MCP server over stdio for desktop clients (token from HUB_TOKEN).

The token is re-checked on every request, so revoking it stops a running process. Tool
list changes reach the client as notifications/tools/list_changed on 2025-era sessions
and through subscriptions/listen on 2026-07-28 sessions.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import anyio
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.stdio import stdio_server
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from hub.accounts.auth import Credential, authenticate
from hub.core.callers import Caller
from hub.mcp.server import HubMcp
from hub.runtime import Runtime

log = logging.getLogger("hub.mcp")


class StdioCaller:
    """Resolves the process's token per request; remembers the session for notifications."""

    def __init__(self, rt: Runtime, raw_token: str) -> None:
        self.rt = rt
        self.raw = raw_token
        self.session: Any = None
        self.legacy = False

    def check(self) -> Caller:
        """The caller the token stands for (agent tokens only), audited like every edge."""
        with self.rt.db.session() as s:
            return authenticate(
                s, Credential("bearer", self.raw), transport="mcp-stdio", kinds=("agent",)
            )

    async def __call__(self, ctx: Any) -> Caller:
        self.session = ctx.session
        self.legacy = ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS
        return await anyio.to_thread.run_sync(self.check)


async def serve_stdio(rt: Runtime, raw_token: str, *, poll_interval: float = 2.0) -> None:
    """Serve MCP on stdin/stdout until the client closes it."""
    who = StdioCaller(rt, raw_token)
    caller = await anyio.to_thread.run_sync(who.check)  # refuse a bad token before serving
    hub = HubMcp(rt, who, poll_interval=poll_interval)
    send, receive = anyio.create_memory_object_stream[object](16)

    def on_change(_event: object) -> None:
        with contextlib.suppress(anyio.WouldBlock):  # a burst: one pending notice is enough
            send.send_nowait(_event)

    async def forward() -> None:
        async for _ in receive:
            if who.session is not None and who.legacy:
                try:
                    await who.session.send_tool_list_changed()
                except Exception as exc:  # the client went away
                    log.debug("list_changed not sent", extra={"exc_type": type(exc).__name__})

    unsubscribe = hub.watcher.subscribe(caller.tenant_id, on_change)
    options = hub.server.create_initialization_options(NotificationOptions(tools_changed=True))
    try:
        async with (
            stdio_server() as (read_stream, write_stream),
            anyio.create_task_group() as tg,
            hub.watcher.watching(caller.tenant_id),
        ):
            tg.start_soon(hub.watcher.run)
            tg.start_soon(forward)
            await hub.server.run(read_stream, write_stream, options)
            tg.cancel_scope.cancel()
    finally:
        unsubscribe()
        send.close()
