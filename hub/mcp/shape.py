"""Every HTTP-level refusal on /mcp in the hub's error shape, whoever made it.

The SDK's transport answers some refusals as plain text (a bad Host: 421, a foreign Origin:
403, a body over its limit: 413, a bad Content-Type: 400) and others as JSON-RPC errors
(406, 415, 400 on a parse error). A client of the hub reads {"error": {"kind", "message"}}
everywhere, so this send wrapper rewrites any status >= 400: plain text becomes the hub's
shape; a JSON-RPC error keeps its members and gains `kind` beside `code` and `message`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Send

KINDS = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    421: "misdirected_request",
}

# The SDK's plain-text refusals, said so that a person knows what to change.
ADVICE = {
    "Invalid Host header": "This hub does not answer to that Host header: reach it at its own "
    "address (HUB_PUBLIC_URL names the public one).",
    "Invalid Origin header": "Requests from that Origin are refused (a browser page of another "
    "site): MCP clients call the hub directly.",
    "Request body too large": "The request body is over the MCP endpoint's limit; send less.",
    "Invalid Content-Type header": "Send the JSON-RPC request as Content-Type: application/json.",
}


def hub_shaped(status: int, body: bytes) -> bytes:
    """A refusal body in the hub's shape (a JSON-RPC error keeps its members, plus kind)."""
    kind = KINDS.get(status, "internal" if status >= 500 else "invalid_request")
    try:
        doc: Any = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        if "kind" not in doc["error"]:
            doc["error"]["kind"] = kind
        return json.dumps(doc).encode()
    text = body.decode("utf-8", "replace").strip()[:300]
    message = ADVICE.get(text, text or f"Refused with HTTP {status}.")
    return json.dumps({"error": {"kind": kind, "message": message}}).encode()


def shaping(send: Send) -> Send:
    """Wrap an ASGI send so that error responses leave in the hub's shape."""
    held: dict[str, Any] = {}

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            held["start"] = message
            held["body"] = b""
            return
        if "start" in held and message["type"] == "http.response.body":
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            start = held.pop("start")
            body = hub_shaped(start["status"], held.pop("body"))
            headers = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-length", b"content-type")
            ]
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return _send
