"""Kept-open client sessions to remote MCP servers: one per server per event loop.

Opening an SDK client per call costs a new HTTP client, a TCP connection through the
outbound guard and the session's own tasks, several times what the call itself costs on a
fast server. A session is kept for servers that speak the stateless 2026-07-28 revision,
where a session holds nothing the server must remember (a 2025-11-25 session id dies with
the server's restart, and a call on a dead one fails in a way that does not prove the tool
never ran, so those servers keep one session per call).

The SDK's client runs task groups that must be left in the task that entered them, so each
kept session is owned by a task of its own that opens it and waits to be told to close;
calls from any task on the same loop use it. A session is dropped when a call on it fails in
any way other than the remote tool's own error (the next call opens a fresh one), when it
has been idle for `idle_s`, when its server's address or credential changes, and when the
process stops. A call that was sent and timed out stays outcome_unknown: nothing here
resends.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp import Client

from hub.federation.discovery import (
    MODERN,
    Endpoint,
    RemoteError,
    connect,
    failure_of,
    list_changed_hook,
    pin_output_schema,
)

Key = tuple[str, str, str, str, float]


@dataclass(eq=False)
class _Kept:
    """One kept session and the task that owns it."""

    server_id: str
    ready: asyncio.Future[Client]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    used_at: float = field(default_factory=time.monotonic)
    # Set by the server's notifications/tools/list_changed; read and cleared by a call.
    list_changed: bool = False

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done() and not self.stop.is_set()


def _key(server_id: str, ep: Endpoint, transport: str) -> Key:
    # The credential is part of the key (as a digest: keys can end up in a debugger).
    cred = hashlib.sha256(repr(sorted(ep.headers.items())).encode()).hexdigest()
    return (server_id, ep.url, transport, cred, ep.timeout_s)


class Sessions:
    """The kept sessions of one process, per event loop."""

    def __init__(self, idle_s: float = 60.0) -> None:
        self.idle_s = idle_s
        self._loops: dict[asyncio.AbstractEventLoop, dict[Key, _Kept]] = {}

    @staticmethod
    def fits(ep: Endpoint, transport: str) -> bool:
        """Whether calls to this server use a kept session (stateless streamable HTTP)."""
        return ep.protocol == MODERN and transport != "sse"

    def _pool(self) -> dict[Key, _Kept]:
        for loop in [lp for lp in self._loops if lp.is_closed()]:
            del self._loops[loop]  # a finished loop took its tasks with it
        return self._loops.setdefault(asyncio.get_running_loop(), {})

    def __len__(self) -> int:
        try:
            return sum(1 for k in self._pool().values() if k.alive)
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
        """Call one remote tool on the server's kept session (opened when needed); the
        outcomes are discovery.call's: NotSent, OutcomeUnknown, RemoteError or a result."""
        kept = self._kept(server_id, ep, transport)
        try:
            with anyio.fail_after(ep.timeout_s):
                client = await asyncio.shield(kept.ready)
        except Exception as exc:
            self._drop(kept)
            raise failure_of(exc, False, ep.timeout_s) from None
        pin_output_schema(client, name, output_schema)
        try:
            with anyio.fail_after(ep.timeout_s):
                result = await client.call_tool(name, arguments, read_timeout_seconds=ep.timeout_s)
        except Exception as exc:
            failure = failure_of(exc, True, ep.timeout_s)
            if not isinstance(failure, RemoteError):
                self._drop(kept)  # in doubt about the session: the next call opens another
            raise failure from None
        finally:
            kept.used_at = time.monotonic()
            if kept.list_changed and on_list_changed is not None:
                kept.list_changed = False
                on_list_changed()
        return result

    def _kept(self, server_id: str, ep: Endpoint, transport: str) -> _Kept:
        pool = self._pool()
        now = time.monotonic()
        key = _key(server_id, ep, transport)
        for k, old in list(pool.items()):
            stale = now - old.used_at > self.idle_s and old.ready.done()
            moved = old.server_id == server_id and k != key  # new address or credential
            if not old.alive or stale or moved:
                self._drop(old)
                pool.pop(k, None)
        kept = pool.get(key)
        if kept is None:
            kept = _Kept(server_id, asyncio.get_running_loop().create_future())
            kept.task = asyncio.create_task(self._own(kept, ep, transport))
            pool[key] = kept
        return kept

    async def _own(self, kept: _Kept, ep: Endpoint, transport: str) -> None:
        def changed() -> None:
            kept.list_changed = True

        try:
            hook = list_changed_hook(changed)
            async with connect(ep, transport, mode=MODERN, on_message=hook) as client:
                kept.ready.set_result(client)
                await kept.stop.wait()
        except Exception as exc:  # a session that broke or would not open just goes away
            if not kept.ready.done():
                kept.ready.set_exception(exc)
        finally:
            kept.stop.set()
            if not kept.ready.done():  # cancelled while opening
                kept.ready.set_exception(ConnectionError("the session was closed"))

    def _drop(self, kept: _Kept) -> None:
        kept.stop.set()

    async def aclose(self) -> None:
        """Close this loop's kept sessions and wait for their tasks (process shutdown)."""
        pool = self._pool()
        kept = list(pool.values())
        pool.clear()
        for k in kept:
            k.stop.set()
        tasks = [k.task for k in kept if k.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
