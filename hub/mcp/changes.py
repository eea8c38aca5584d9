"""Telling agents their tool list changed (a connection added or removed, a catalog change).

Each tenant has its own event bus, so one tenant's change never reaches another's agents.
A watcher re-reads, for tenants with someone listening, what their listing depends on (the
registry revision and their usable connections; one cheap query pair) every few seconds,
and publishes ToolsListChanged when it moved. Polling the database rather than hooking the
write path means a change made by any hub process (REST, console, another replica, a
`hub mcp` stdio process) is seen by every process that has listeners. In-process changes
(disconnect_integration) reach it through hub.core.signals for an immediate check.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged

from hub.core.signals import listen_toolset
from hub.mcp.tools import ToolCatalog
from hub.runtime import Runtime

log = logging.getLogger("hub.mcp")


class ToolsetWatcher:
    """Per-tenant buses plus a poller that publishes changes to them."""

    def __init__(self, rt: Runtime, catalog: ToolCatalog, interval: float = 2.0) -> None:
        self.rt = rt
        self.catalog = catalog
        self.interval = interval
        self._buses: dict[str, InMemorySubscriptionBus] = {}
        self._listen: dict[str, ListenHandler] = {}
        self._watching: dict[str, int] = {}
        self._prints: dict[str, tuple[Any, ...]] = {}
        self._check_lock = anyio.Lock()
        listen_toolset(self)

    def bus(self, tenant_id: str) -> InMemorySubscriptionBus:
        """The tenant's event bus."""
        bus = self._buses.get(tenant_id)
        if bus is None:
            bus = self._buses[tenant_id] = InMemorySubscriptionBus()
        return bus

    def listen_handler(self, tenant_id: str) -> ListenHandler:
        """The SDK's subscriptions/listen handler bound to the tenant's bus."""
        handler = self._listen.get(tenant_id)
        if handler is None:
            handler = self._listen[tenant_id] = ListenHandler(self.bus(tenant_id))
        return handler

    def subscribe(self, tenant_id: str, listener: Callable[[Any], None]) -> Callable[[], None]:
        """Register a synchronous listener on the tenant's bus; returns its unsubscribe."""
        return self.bus(tenant_id).subscribe(listener)

    @asynccontextmanager
    async def watching(self, tenant_id: str) -> AsyncIterator[None]:
        """Keep polling the tenant while the block runs (baseline taken on entry)."""
        if self._watching.get(tenant_id, 0) == 0:
            self._prints[tenant_id] = await self._fingerprint(tenant_id)
        self._watching[tenant_id] = self._watching.get(tenant_id, 0) + 1
        try:
            yield
        finally:
            self._watching[tenant_id] -= 1
            if self._watching[tenant_id] <= 0:
                self._watching.pop(tenant_id, None)
                self._prints.pop(tenant_id, None)

    async def _fingerprint(self, tenant_id: str) -> tuple[Any, ...]:
        def _read() -> tuple[Any, ...]:
            with self.rt.db.session() as s:
                return self.catalog.fingerprint(s, tenant_id)

        return await anyio.to_thread.run_sync(_read)

    async def check(self, tenant_id: str) -> bool:
        """Publish ToolsListChanged to the tenant if its listing moved; returns whether."""
        if tenant_id not in self._watching:
            return False
        async with self._check_lock:
            now = await self._fingerprint(tenant_id)
            before = self._prints.get(tenant_id)
            if tenant_id not in self._watching or now == before:
                return False
            self._prints[tenant_id] = now
        log.info("tool list changed", extra={"tenant_id": tenant_id})
        await self.bus(tenant_id).publish(ToolsListChanged())
        return True

    async def run(self) -> None:
        """Poll watched tenants until cancelled (errors are logged, never fatal)."""
        while True:
            await anyio.sleep(self.interval)
            for tenant_id in list(self._watching):
                try:
                    await self.check(tenant_id)
                except Exception as exc:  # a database hiccup must not end the watcher
                    log.warning("tool list check failed", extra={"exc_type": type(exc).__name__})

    def close(self) -> None:
        """End every open listen stream gracefully."""
        for handler in self._listen.values():
            handler.close()
