"""Talking to a remote MCP server with the official SDK client: list its tools (every page)
and call one. Every HTTP request goes through the outbound guard (hub.core.outbound), so the
address checked is the address connected to, redirects included.

Transports: streamable HTTP, and the older HTTP+SSE for servers that only have it; `auto`
tries streamable HTTP first and falls back to SSE. The agent's hub token is never part of
any request here: the only headers are the server's own credential, from the vault.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from hub.core.errors import HubError
from hub.core.hop import NotSent, OutcomeUnknown
from hub.core.outbound import Allow, guarded_client
from hub.federation.pinning import Listed, definition_of

log = logging.getLogger("hub.federation")

MAX_PAGES = 100  # a server that pages forever is cut off
MODERN = "2026-07-28"


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one server (headers hold its credential: never log them)."""

    url: str
    transport: str
    allow: Allow
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    timeout_s: float = 30.0
    protocol: str | None = None  # the version the last discovery negotiated


@dataclass
class Discovery:
    """One refresh's findings."""

    transport: str
    protocol: str | None
    tools: list[Listed]
    server_info: dict[str, Any]
    ttl_ms: int | None = None
    list_changed: bool = False


def _factory(ep: Endpoint) -> Callable[..., httpx2.AsyncClient]:
    def make(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return guarded_client(
            ep.allow, headers={**(headers or {}), **ep.headers}, timeout=timeout, auth=auth
        )

    return make


@asynccontextmanager
async def connect(
    ep: Endpoint,
    transport: str,
    mode: str = "legacy",
    on_message: Callable[[Any], Awaitable[None]] | None = None,
) -> AsyncIterator[Client]:
    """An SDK Client session to the server over one transport."""
    timeout = httpx2.Timeout(ep.timeout_s, read=ep.timeout_s)
    kw: dict[str, Any] = {"mode": mode, "read_timeout_seconds": ep.timeout_s}
    if on_message is not None:
        kw["message_handler"] = on_message
    if transport == "sse":
        stream = sse_client(
            ep.url,
            timeout=ep.timeout_s,
            sse_read_timeout=ep.timeout_s,
            httpx_client_factory=_factory(ep),
        )
        async with Client(stream, **kw) as c:
            yield c
        return
    async with (
        guarded_client(ep.allow, headers=dict(ep.headers), timeout=timeout) as hc,
        Client(streamable_http_client(ep.url, http_client=hc), **kw) as c,
    ):
        yield c


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason for a failed connection (exception text can carry URLs
    with query strings, so only the type and the first line are kept, bounded)."""
    if isinstance(exc, HubError):
        return exc.message
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.exceptions[0] if exc.exceptions else exc
        return _reason(inner)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def _guard_refusal(exc: BaseException) -> HubError | None:
    """The outbound guard's refusal inside whatever the SDK wrapped it in."""
    seen: list[BaseException] = [exc]
    while seen:
        e = seen.pop()
        if isinstance(e, HubError):
            return e
        if isinstance(e, BaseExceptionGroup):
            seen.extend(e.exceptions)
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None and len(seen) < 20:
                seen.append(nxt)
    return None


async def _list_all(c: Client) -> tuple[list[types.Tool], int | None]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    ttl: int | None = None
    for _ in range(MAX_PAGES):
        page = await c.list_tools(cursor=cursor, cache_mode="refresh")
        tools.extend(page.tools)
        if ttl is None:
            ttl = getattr(page, "ttl_ms", None)
        cursor = page.next_cursor
        if not cursor:
            return tools, ttl
    raise HubError(
        "vendor_unavailable",
        f"The server kept paging its tool list past {MAX_PAGES} pages; it was cut off.",
    )


async def discover(ep: Endpoint) -> Discovery:
    """List every tool of the server (following pagination); HubError when it cannot."""
    order = ["streamable_http", "sse"] if ep.transport == "auto" else [ep.transport]
    errors: list[str] = []
    for transport in order:
        try:
            with anyio.fail_after(ep.timeout_s * 2):
                async with connect(ep, transport, mode="auto") as c:
                    tools, ttl = await _list_all(c)
                    info = _server_info(c)
                    caps = info.get("capabilities") or {}
                    return Discovery(
                        transport=transport,
                        protocol=c.protocol_version,
                        tools=[Listed(t.name, definition_of(t)) for t in tools],
                        server_info=info,
                        ttl_ms=ttl,
                        list_changed=bool((caps.get("tools") or {}).get("listChanged")),
                    )
        except HubError as exc:
            if exc.kind == "outbound_refused":
                raise
            errors.append(f"{transport}: {exc.message}")
        except Exception as exc:
            refusal = _guard_refusal(exc)
            if refusal is not None:
                raise refusal from None
            errors.append(f"{transport}: {_reason(exc)}")
    raise HubError(
        "vendor_unavailable",
        "The MCP server did not answer a tool listing ("
        + "; ".join(errors)
        + "). Check the URL and transport, and that the server is up.",
    )


def _server_info(c: Client) -> dict[str, Any]:
    out: dict[str, Any] = {"protocol": c.protocol_version}
    if c.server_info is not None:
        out["server"] = c.server_info.model_dump(by_alias=True, exclude_none=True, mode="json")
    out["capabilities"] = c.server_capabilities.model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    return out


def list_changed_hook(on_change: Callable[[], None]) -> Callable[[Any], Awaitable[None]]:
    """A message handler that notices notifications/tools/list_changed from the server."""

    async def handle(message: Any) -> None:
        inner = getattr(message, "root", message)
        if isinstance(inner, types.ToolListChangedNotification):
            on_change()

    return handle


def pin_output_schema(c: Client, name: str, output_schema: dict[str, Any] | None) -> None:
    """Hand the SDK client the pinned output schema of a tool: its result check would
    otherwise list the server's tools before the first call of each session (one more round
    trip per call). The hub's pinned schema is the one that counts."""
    schemas = getattr(c.session, "_tool_output_schemas", None)
    if isinstance(schemas, dict):
        schemas[name] = output_schema


async def call(
    ep: Endpoint,
    transport: str,
    name: str,
    arguments: dict[str, Any],
    on_list_changed: Callable[[], None] | None = None,
    output_schema: dict[str, Any] | None = None,
) -> types.CallToolResult:
    """Call one remote tool. NotSent when it provably never reached the server; once sent, a
    timeout or a lost answer is OutcomeUnknown (the caller never resends it).
    `on_list_changed` runs if the server says its tool list changed meanwhile."""
    mode = MODERN if ep.protocol == MODERN else "legacy"
    sent = False
    result: types.CallToolResult | None = None
    hook = list_changed_hook(on_list_changed) if on_list_changed else None
    try:
        with anyio.fail_after(ep.timeout_s):
            async with connect(ep, transport, mode=mode, on_message=hook) as c:
                pin_output_schema(c, name, output_schema)
                sent = True
                result = await c.call_tool(name, arguments, read_timeout_seconds=ep.timeout_s)
        return result
    except Exception as exc:
        if result is not None:  # the answer came; only closing the session failed or was slow
            return result
        raise failure_of(exc, sent, ep.timeout_s) from None


def failure_of(exc: Exception, sent: bool, timeout_s: float) -> Exception:
    """What a failed call was, for the spine: NotSent when it provably never reached the
    server, OutcomeUnknown once sent and unanswered, RemoteError when the server refused it."""
    if isinstance(exc, TimeoutError):
        if not sent:
            return NotSent(f"the MCP server did not accept a session within {timeout_s:g} s")
        return OutcomeUnknown(
            f"the MCP server did not answer within {timeout_s:g} s after the call was sent"
        )
    if isinstance(exc, MCPError):
        code = exc.error.code
        if not sent:
            return NotSent(f"the MCP server refused the session ({exc.error.message[:200]})")
        if code in (types.REQUEST_TIMEOUT, types.CONNECTION_CLOSED):
            return OutcomeUnknown(f"the call was sent but its answer was lost ({code})")
        return RemoteError(exc.error.message[:2000], code)
    refusal = _guard_refusal(exc)
    if refusal is not None:
        return NotSent(refusal.message)
    if not sent or isinstance(exc, httpx2.ConnectError):
        return NotSent(f"could not reach the MCP server ({_reason(exc)})")
    return OutcomeUnknown(f"the call was sent but no answer came ({_reason(exc)})")


class RemoteError(Exception):
    """The server answered the call with a JSON-RPC error (it did not run the tool)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
