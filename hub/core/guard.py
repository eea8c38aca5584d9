"""The first thing every request meets: body size, slow bodies, NUL bytes, disconnects.

Before the app sees a request, EdgeGuard reads its body (when it has one) within two bounds:
the size limit of its route family (the edge endpoint, console forms, everything else),
refused with 413 without reading further when Content-Length already says too much, and a
read timeout per chunk (408), so a client that sends less than it announced cannot hold a
worker. A body or query string carrying NUL is refused (422): neither database can store it.
A client that goes away mid-request is logged as such, not as a server error. Every refusal
is in the hub's JSON error shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.core.settings import Settings

log = logging.getLogger("hub.http")

# MCP refuses NUL per tool call instead (hub.core.limits), as a tool error the model reads.
OWN_NUL_CHECK = ("/mcp",)
# Inbound vendor webhooks are stored as raw bytes (a NUL is data there, and refusing it would
# make the vendor retry an event the hub can never take).
RAW_BODY_PREFIXES = ("/webhooks/",)
# A JSON string escape for NUL: an odd number of backslashes, then u0000.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True)
class Limits:
    """Body limits per route family and the read timeout, from the settings."""

    api: int
    form: int
    edge: int
    body_timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits a settings object configures."""
        return cls(
            api=settings.max_body_bytes,
            form=settings.max_form_bytes,
            edge=settings.max_edge_body_bytes,
            body_timeout_s=settings.body_timeout_s,
        )

    def for_request(self, path: str, content_type: str) -> int:
        """The body limit of the route family a request belongs to."""
        if path.startswith("/edge/"):
            return self.edge
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            return self.form
        return self.api


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class _Gone(Exception):
    pass


async def refuse(send: Send, status: int, kind: str, message: str) -> None:
    """Answer with the hub's JSON error shape and close the connection."""
    body = json.dumps({"error": {"kind": kind, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    for k, v in scope.get("headers", ()):
        if k == name:
            return str(v.decode("latin-1"))
    return ""


class EdgeGuard:
    """ASGI middleware: bounded, timed body reads and NUL checks before the app runs."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b""):
            await refuse(send, 422, "invalid_request", "The query string contains a NUL character.")
            return
        content_type = _header(scope, b"content-type").lower()
        limit = self.limits.for_request(scope["path"], content_type)
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await refuse(send, 413, "too_large", _too_large(limit))
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") and not declared:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(receive, limit)
        except _TooLarge:
            await refuse(send, 413, "too_large", _too_large(limit))
            return
        except _TooSlow:
            await refuse(
                send,
                408,
                "timeout",
                f"The request body did not arrive within {self.limits.body_timeout_s:g} s "
                "(or was shorter than its Content-Length); send it whole and promptly.",
            )
            return
        except _Gone:
            log.info("client disconnected", extra={"path": scope["path"], "phase": "body"})
            return
        path = scope["path"]
        raw = path in OWN_NUL_CHECK or path.startswith(RAW_BODY_PREFIXES)
        if not raw and _has_nul(body, content_type):
            await refuse(
                send,
                422,
                "invalid_request",
                "The request body contains a NUL character, which the hub does not store; "
                "remove it and send again.",
            )
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                # asyncio.timeout, not wait_for: no task per chunk (it showed at 1,000 req/s).
                async with asyncio.timeout(self.limits.body_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def _too_large(limit: int) -> str:
    return (
        f"The request body is over this route's limit of {limit} bytes; send less "
        "(limits are set with HUB_MAX_BODY_BYTES, HUB_MAX_FORM_BYTES, HUB_MAX_EDGE_BODY_BYTES)."
    )


def _has_nul(body: bytes, content_type: str) -> bool:
    if b"\x00" in body:
        return True
    if content_type.startswith("application/x-www-form-urlencoded"):
        return b"%00" in body
    return b"\\u0000" in body and _JSON_NUL.search(body) is not None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then waits for a disconnect."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive
