"""`tools/list` answered from bytes: the SDK's own answer, kept per listing and request shape.

A tenant with 20 MCP servers of 50 tools each lists a megabyte of JSON, and building that
answer (pydantic dumps, the SDK's per-version sieve, json.dumps) costs hundreds of times
what the lookup behind it does. The answer only changes when the tenant's listing
fingerprint changes (hub.mcp.tools.ToolCatalog), so the first request of each shape goes
through the SDK as usual; its JSON-RPC result is kept as bytes under (fingerprint, request
shape), and the next request of the same shape gets those bytes with its own id.

"Request shape" is every header the SDK could judge (Host, Origin, Accept, Content-Type,
the protocol version...) plus the request's params, verbatim: an answer is replayed only
to a request the SDK has already accepted in exactly that form, so the fast path can never
accept what the SDK would refuse, nor answer one protocol revision with another's shape.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message, Receive, Send

# Headers that say nothing about the answer's shape: who is calling is settled before (and
# is part of the fingerprint where it matters), the rest is per connection or per request.
IGNORED = frozenset(
    {
        b"authorization",
        b"content-length",
        b"user-agent",
        b"accept-encoding",
        b"connection",
        b"x-request-id",
        b"traceparent",
        b"tracestate",
    }
)
SCOPE_KEY = "hub.listing"  # where the handler leaves the fingerprint it listed for


@dataclass
class Probe:
    """A tools/list request, read off the wire, and what its answer will be kept under."""

    id: int | str
    shape: tuple[Any, ...]
    fingerprint: tuple[Any, ...] | None = None  # set by HubMcp.list_tools on a miss


@dataclass
class Kept:
    """One kept answer: the result's bytes and the response headers the SDK sent."""

    result: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def probe_of(body: bytes, headers: list[tuple[bytes, bytes]]) -> Probe | None:
    """The tools/list request in this body, or None for anything else (batches,
    notifications, other methods, malformed JSON: all go to the SDK untouched)."""
    if b"tools/list" not in body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("method") != "tools/list":
        return None
    rid = doc.get("id")
    if doc.get("jsonrpc") != "2.0" or isinstance(rid, bool) or not isinstance(rid, (int, str)):
        return None
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        return None
    if set(doc) - {"jsonrpc", "id", "method", "params"}:
        return None
    kept = tuple(sorted((k.lower(), v) for k, v in headers if k.lower() not in IGNORED))
    return Probe(rid, (kept, json.dumps(params, sort_keys=True, separators=(",", ":"))))


class ListingCache:
    """Kept tools/list answers, least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max = max_bytes
        self._size = 0
        self._kept: OrderedDict[tuple[Any, ...], Kept] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, fingerprint: tuple[Any, ...], shape: tuple[Any, ...]) -> Kept | None:
        """The answer kept for this listing and request shape."""
        with self._lock:
            hit = self._kept.get((fingerprint, shape))
            if hit is not None:
                self._kept.move_to_end((fingerprint, shape))
            return hit

    def put(self, fingerprint: tuple[Any, ...], shape: tuple[Any, ...], kept: Kept) -> None:
        """Keep an answer (one larger than the whole budget is not kept)."""
        if len(kept.result) > self._max:
            return
        with self._lock:
            old = self._kept.pop((fingerprint, shape), None)
            if old is not None:
                self._size -= len(old.result)
            self._kept[(fingerprint, shape)] = kept
            self._size += len(kept.result)
            while self._size > self._max:
                _, out = self._kept.popitem(last=False)
                self._size -= len(out.result)

    def __len__(self) -> int:
        return len(self._kept)


async def read_body(receive: Receive) -> bytes:
    """The whole request body (EdgeGuard has bounded it already)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the body out again, then defers to the real one."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


async def send_kept(send: Send, rid: int | str, kept: Kept) -> None:
    """The kept answer under this request's id."""
    body = b'{"jsonrpc":"2.0","id":%s,"result":%s}' % (json.dumps(rid).encode(), kept.result)
    headers = [*kept.headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def capturing(send: Send, probe: Probe, cache: ListingCache) -> Send:
    """Pass the SDK's answer through; keep it when it is a plain JSON result for this id."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def _send(message: Message) -> None:
        await send(message)
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body" or start.get("status") != 200:
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        _keep(start, b"".join(chunks), probe, cache)

    return _send


def _keep(start: dict[str, Any], body: bytes, probe: Probe, cache: ListingCache) -> None:
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    json_typed = any(
        k.lower() == b"content-type" and v.startswith(b"application/json") for k, v in headers
    )
    if probe.fingerprint is None or not json_typed:
        return
    try:
        doc = json.loads(body)
    except ValueError:
        return
    if not isinstance(doc, dict) or doc.get("id") != probe.id or "result" not in doc:
        return
    result = json.dumps(doc["result"], separators=(",", ":"), ensure_ascii=False).encode()
    cache.put(probe.fingerprint, probe.shape, Kept(result, headers))
