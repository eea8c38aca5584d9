"""Streamable HTTP at /mcp: stateless (no session affinity), bearer agent tokens only.

The bearer token is checked before the SDK sees the request (hub.accounts.auth, as for every
edge): a missing, unknown, revoked, expired or foreign token gets 401 and a valid token of
another kind 403, both in the hub's JSON error shape. The caller rides the ASGI scope to the
handlers (ctx.request.scope).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from hub.accounts.auth import authenticate_bearer, bearer_of
from hub.core import afterwards
from hub.core.callers import Caller
from hub.core.errors import HubError
from hub.core.settings import Settings
from hub.mcp.direct import DirectCalls
from hub.mcp.listing import SCOPE_KEY as LISTING_KEY
from hub.mcp.listing import ListingCache, capturing, probe_of, read_body, replaying, send_kept
from hub.mcp.server import HubMcp
from hub.mcp.shape import shaping
from hub.runtime import Runtime

log = logging.getLogger("hub.mcp")

SCOPE_KEY = "hub.caller"
PATH = "/mcp"


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: Host and Origin must name this hub (loopback or public URL)."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if settings.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost"):  # noqa: S104
        hosts += [settings.host, f"{settings.host}:*"]
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        if parts.netloc:
            hosts.append(parts.netloc)
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def _refuse(err: HubError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="hub"'} if err.status == 401 else None
    return JSONResponse(err.to_dict(), status_code=err.status, headers=headers)


class McpEndpoint:
    """The ASGI app mounted at /mcp (authenticate, then hand over to the SDK)."""

    def __init__(self, rt: Runtime, *, poll_interval: float = 2.0) -> None:
        self.rt = rt
        self.hub = HubMcp(rt, self._caller_of, poll_interval=poll_interval)
        security = security_settings(rt.settings)
        self.listings = ListingCache()  # tools/list answers as bytes (hub.mcp.listing)
        self.manager = StreamableHTTPSessionManager(
            app=self.hub.server,
            stateless=True,
            # One JSON body per request: the cheapest framing; subscriptions/listen still
            # streams (the SDK always answers it with SSE).
            json_response=True,
            security_settings=security,
        )
        # A handshake-era tools/call, in this request's task (hub.mcp.direct).
        self.direct = DirectCalls(self.hub.server, TransportSecurityMiddleware(security))

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """The SDK's session manager and the tool-list watcher, for the app's lifespan."""
        async with self.manager.run(), anyio.create_task_group() as tg:
            tg.start_soon(self.hub.watcher.run)
            try:
                yield
            finally:
                self.hub.watcher.close()
                tg.cancel_scope.cancel()

    async def _caller_of(self, ctx: Any) -> Caller:
        request = getattr(ctx, "request", None)
        caller = request.scope.get(SCOPE_KEY) if request is not None else None
        if caller is None:  # pragma: no cover - the endpoint always sets it
            raise HubError("unauthenticated", "No authenticated caller on this request.")
        return caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - lifespan is the app's
            return
        try:
            caller = await authenticate_bearer(
                self.rt.db,
                _bearer(scope),
                transport="mcp-http",
                path=scope["path"],
                kinds=("agent",),
            )
        except HubError as err:
            await _refuse(err)(scope, receive, send)
            return
        scope[SCOPE_KEY] = caller
        if scope["method"] == "POST":
            body = await read_body(receive)
            receive = replaying(body, receive)
            if await self.direct.try_serve(scope, body, receive, send):
                return
            probe = probe_of(body, scope.get("headers", []))
            if probe is not None:
                fp = await self._fingerprint(caller.tenant_id)
                kept = self.listings.get(fp, probe.shape)
                if kept is not None:
                    await send_kept(send, probe.id, kept)
                    return
                scope[LISTING_KEY] = probe
                send = capturing(send, probe, self.listings)
            # A call the SDK serves in this task leaves its run's bookkeeping for after the
            # answer (hub.core.afterwards); one served by a session's own task does it first.
            with afterwards.window() as later:
                try:
                    await self.manager.handle_request(scope, receive, shaping(send))
                finally:
                    await afterwards.run(later)
            return
        await self.manager.handle_request(scope, receive, shaping(send))

    async def _fingerprint(self, tenant_id: str) -> tuple[Any, ...]:
        def _run() -> tuple[Any, ...]:
            with self.rt.db.session() as s:
                return self.hub.catalog.fingerprint(s, tenant_id)

        return await anyio.to_thread.run_sync(_run)


def _bearer(scope: Scope) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == b"authorization":
            return bearer_of(v.decode("latin-1"))
    return None
