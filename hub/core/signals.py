"""In-process notices from domains to the surfaces that listen (no domain imports a surface).

Only one today: a tenant's tool list may have changed (a connection removed by an agent's
approved action). MCP watchers (hub.mcp.changes) subscribe and re-check at once instead of
at their next poll; other processes see the change at their next poll.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable
from typing import Protocol


class ToolsetListener(Protocol):
    """Something that re-checks one tenant's tool list (an MCP watcher)."""

    def check(self, tenant_id: str) -> Awaitable[bool]: ...


_listeners: weakref.WeakSet[ToolsetListener] = weakref.WeakSet()


def listen_toolset(listener: ToolsetListener) -> None:
    """Register a listener for as long as it lives."""
    _listeners.add(listener)


async def toolset_changed(tenant_id: str) -> None:
    """Tell every live listener of this process that the tenant's tool list may have moved."""
    for listener in list(_listeners):
        await listener.check(tenant_id)
