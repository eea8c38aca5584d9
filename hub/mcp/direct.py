"""A handshake-era `tools/call` on /mcp, served in the request's own task.

For every stateless POST of a client on a handshake-era revision (2025-11-25 and before),
the SDK builds a server transport, memory streams, a JSON-RPC dispatcher and a task, only
to carry one request to the handler and its answer back: milliseconds of a remote tool
call through the hub, whose own work should add two. Its 2026-07-28 entry already serves a
request in the ASGI task, through `serve_one`: the same kernel (params validation, the
handler, middleware, result serialisation for the revision). This module serves a single
`tools/call` of an older revision that way too, answered as the SDK's legacy JSON framing
would (HTTP 200, the JSON-RPC response or error).

Only requests the SDK's legacy transport would certainly accept come here: a POST with a
handshake-era MCP-Protocol-Version header, no session id, Host, Origin and Content-Type
passing the SDK's own checks, an Accept naming JSON, and a body that is one JSON-RPC
request for `tools/call`. Anything else (initialize, other methods, batches,
notifications, a header the SDK would refuse) goes the SDK's way and gets its answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import pydantic_core
from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.runner import modern_error_data, serve_one
from mcp.server.streamable_http import check_accept_headers
from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecurityMiddleware,
)
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import JSONRPCError, JSONRPCRequest, RequestId
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from hub.core import afterwards

METHOD = "tools/call"
# What the SDK's default lifespan yields, which is the hub's Server's: an empty state.
LIFESPAN_STATE: dict[str, Any] = {}
_HEADERS = [(b"content-type", b"application/json")]


@dataclass
class _Exchange:
    """The dispatch context of one request whose response body carries only the answer.

    As on the SDK's stateless JSON transport: no back-channel for server requests, and
    request-scoped notifications (progress, logs) have no wire to ride, so they are dropped.
    """

    request_id: RequestId
    message_metadata: ServerMessageMetadata
    transport: TransportContext = field(
        default_factory=lambda: TransportContext(kind="streamable-http", can_send_request=False)
    )
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        """Refused: a JSON response cannot carry a server request."""
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        """Dropped: a JSON response carries only the answer."""

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Dropped, like every notification here."""


class DirectCalls:
    """Serves the `tools/call` requests this module takes; the SDK gets the rest."""

    def __init__(self, server: Server[Any], security: TransportSecurityMiddleware) -> None:
        self.server = server
        self.security = security
        self.served = 0

    async def try_serve(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> bool:
        """Answer the request if it is one this path takes; False (nothing sent) if not."""
        version = _version_if_direct(scope, len(body))
        if version is None:
            return False
        request = Request(scope, receive)
        if await self.security.validate_request(request, is_post=True) is not None:
            return False
        if not check_accept_headers(request)[0]:
            return False
        req = _call_of(body)
        if req is None:
            return False
        dctx = _Exchange(
            request_id=req.id,
            message_metadata=ServerMessageMetadata(request_context=request, can_send_request=False),
        )
        # The call's own bookkeeping that can wait (hub.core.afterwards) runs after the send,
        # and whatever happens to the send (a client gone, a cancelled task).
        with afterwards.window() as later:
            try:
                await self._answer(version, req, dctx, send)
            finally:
                await afterwards.run(later)
        return True

    async def _answer(self, version: str, req: JSONRPCRequest, dctx: _Exchange, send: Send) -> None:
        try:
            result = await serve_one(
                self.server,
                dctx,
                req.method,
                req.params,
                connection=Connection.from_envelope(version, None, None),
                lifespan_state=LIFESPAN_STATE,
            )
            answer: dict[str, Any] = {"jsonrpc": "2.0", "id": req.id, "result": result}
        except Exception as exc:  # the SDK's mapping; anything unmapped says only "internal"
            error = JSONRPCError(jsonrpc="2.0", id=req.id, error=modern_error_data(exc))
            answer = error.model_dump(mode="json", by_alias=True, exclude_none=True)
        self.served += 1
        # pydantic's encoder, as the SDK's framing: whatever the kernel left in the result
        # (a datetime, bytes) is written the same way.
        out = pydantic_core.to_json(answer)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_HEADERS, (b"content-length", str(len(out)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": out})


def _version_if_direct(scope: Scope, size: int) -> str | None:
    """The request's protocol revision when its headers suit this path, else None."""
    if scope["method"] != "POST" or size > DEFAULT_MAX_REQUEST_BODY_SIZE:
        return None
    version = content_type = None
    for k, v in scope.get("headers", ()):
        if k == b"mcp-protocol-version":
            version = v.decode("latin-1")
        elif k == b"content-type":
            content_type = v.decode("latin-1")
        elif k == b"mcp-session-id":
            return None
    if version not in HANDSHAKE_PROTOCOL_VERSIONS or content_type is None:
        return None
    # The SDK's transport takes `application/json`, parameters after `;` aside.
    if "application/json" not in (p.strip() for p in content_type.split(";")[0].split(",")):
        return None
    return version


def _call_of(body: bytes) -> JSONRPCRequest | None:
    """The body as one JSON-RPC `tools/call` request, or None."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("method") != METHOD or "id" not in doc:
        return None
    try:
        return JSONRPCRequest.model_validate(doc, by_name=False)
    except ValidationError:
        return None
