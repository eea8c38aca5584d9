"""One `tools/call` to a stateless (2026-07-28) streamable-HTTP MCP server, as bytes: the
request the SDK's client would send, and its answer read the way the SDK's client reads it.

A call to such a server is a single POST carrying the protocol version and the client's info
in the request's `_meta`; the answer is one JSON-RPC message, as JSON or as an event stream
(which may carry notifications before it). Reading it here instead of through the SDK's
client saves that client's per-call tasks, streams and models (about 1.5 ms of CPU a call on
this project's machine; bench/RESULTS.md). Discovery, legacy servers and the SSE transport
keep the SDK's client (hub.federation.discovery).

Failures mean what they mean through the SDK's client (discovery.failure_of): a JSON-RPC
error, an HTTP error status, a redirect it would not follow or an answer in another format
is the server refusing the call (RemoteError); a stream that ends without the answer, an
answer to another request or a result the hub cannot read is OutcomeUnknown.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import mcp_types as types
from jsonschema import exceptions as schema_errors
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from pydantic import ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable

from hub import __version__
from hub.core import caches
from hub.core.hop import OutcomeUnknown
from hub.core.keepalive import Answer
from hub.core.outbound import Target
from hub.federation.discovery import MODERN, RemoteError

CLIENT_INFO = {"name": "integration-hub", "version": __version__}
# A header value the hub writes into the request line by hand must be one line of visible
# ASCII (and spaces); anything else goes through the SDK's client, which refuses it itself.
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_URL = re.compile(r"https?://[\x21-\x7e]+", re.IGNORECASE)
_LINE = re.compile(rb"\r\n|\r|\n")
# JSON-RPC codes the SDK's client uses for what it makes of an HTTP answer.
_LOST = (types.REQUEST_TIMEOUT, types.CONNECTION_CLOSED)


class Redirected(Exception):
    """The server answered with a redirect: the SDK's client decides whether to follow it."""


def writable(url: str, headers: dict[str, str], tool: str) -> bool:
    """Whether this URL, these credential headers and this tool name can be written into a
    request as they are (visible ASCII; an international name or path goes through the
    SDK's client, which encodes it)."""
    return (
        bool(_URL.fullmatch(url))
        and bool(_HEADER_VALUE.fullmatch(tool))
        and all(
            _HEADER_NAME.fullmatch(k) and _HEADER_VALUE.fullmatch(v) for k, v in headers.items()
        )
    )


def request(
    target: Target, url: str, headers: dict[str, str], name: str, arguments: Any, rid: int
) -> bytes:
    """The POST of one tools/call, as the SDK's client writes it (plus the credential)."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {
                "name": name,
                "arguments": arguments,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    authority = host if target.port == default else f"{host}:{target.port}"
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n"
        "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
        f"MCP-Protocol-Version: {MODERN}\r\nMcp-Method: tools/call\r\nMcp-Name: {name}\r\n"
        f"{extra}Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("latin-1") + body


class EventFeed:
    """Reads an event-stream answer until the JSON-RPC response to one request; notes a
    notifications/tools/list_changed on the way."""

    def __init__(self, rid: int) -> None:
        self.rid = rid
        self.message: dict[str, Any] | None = None
        self.list_changed = False
        self._rest = b""
        self._data: list[bytes] = []

    def __call__(self, chunk: bytes) -> bool:
        buf = self._rest + chunk
        hold = b""
        if buf.endswith(b"\r"):  # maybe half of a CRLF: wait for the next chunk
            buf, hold = buf[:-1], b"\r"
        *lines, rest = _LINE.split(buf)
        self._rest = rest + hold
        for line in lines:
            if line:
                field, _, value = line.partition(b":")
                if field == b"data":
                    self._data.append(value[1:] if value.startswith(b" ") else value)
                continue
            if self._data and self._take(b"\n".join(self._data)):
                return True
            self._data = []
        return False

    def _take(self, data: bytes) -> bool:
        try:
            msg = json.loads(data)
        except ValueError:
            self.message = _error(types.PARSE_ERROR, "Failed to parse SSE message")
            return True
        if not isinstance(msg, dict):
            return False
        if "result" in msg or "error" in msg:
            if msg.get("id") == self.rid:
                self.message = msg
                return True
            return False  # an answer to something else: not ours to read
        if msg.get("method") == "notifications/tools/list_changed":
            self.list_changed = True
        return False


def _error(code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}}


def feed_for(rid: int) -> tuple[list[EventFeed], Any]:
    """A holder and the keepalive FeedFor that streams a 200 event-stream answer into it."""
    held: list[EventFeed] = []

    def pick(status: int, headers: dict[str, str]) -> EventFeed | None:
        ctype = headers.get("content-type", "").lower()
        if status == 200 and ctype.startswith("text/event-stream"):
            held.append(EventFeed(rid))
            return held[0]
        return None

    return held, pick


def result_of(answer: Answer, feed: EventFeed | None, rid: int) -> types.CallToolResult:
    """The tool's result in an answer, or the failure the answer stands for."""
    if feed is not None:
        if feed.message is None:
            raise OutcomeUnknown("the call was sent but the event stream ended without its answer")
        return _result(feed.message, rid)
    status = answer.status
    ctype = answer.headers.get("content-type", "").lower()
    if 300 <= status < 400:
        raise Redirected(answer.headers.get("location", ""))
    if status == 202:
        raise RemoteError("server answered a request with 202 Accepted", types.INVALID_REQUEST)
    if status >= 400:
        if ctype.startswith("application/json"):
            try:
                msg = json.loads(answer.body)
            except ValueError:
                msg = None
            if isinstance(msg, dict) and isinstance(msg.get("error"), dict):
                _raise_error(msg["error"])
        if status == 404:
            raise RemoteError("Not Found", types.METHOD_NOT_FOUND)
        raise RemoteError(
            f"Server returned an error response (HTTP {status})", types.INTERNAL_ERROR
        )
    if not ctype.startswith("application/json"):
        raise RemoteError(f"Unexpected content type: {ctype}", types.INVALID_REQUEST)
    try:
        msg = json.loads(answer.body)
    except ValueError:
        raise RemoteError("Failed to parse JSON response", types.PARSE_ERROR) from None
    if not isinstance(msg, dict):
        raise RemoteError("Failed to parse JSON response", types.PARSE_ERROR)
    return _result(msg, rid)


def _raise_error(err: dict[str, Any]) -> None:
    code = err.get("code")
    code = code if isinstance(code, int) else types.INTERNAL_ERROR
    message = str(err.get("message", ""))[:2000]
    if code in _LOST:
        raise OutcomeUnknown(f"the call was sent but its answer was lost ({code})")
    raise RemoteError(message, code)


def _result(msg: dict[str, Any], rid: int) -> types.CallToolResult:
    if isinstance(msg.get("error"), dict):
        _raise_error(msg["error"])
    if msg.get("id") != rid or not isinstance(msg.get("result"), dict):
        raise OutcomeUnknown("the call was sent but the server answered something else")
    raw = msg["result"]
    kind = raw.get("resultType")
    if kind is None:  # required in this revision; the SDK's client refuses such a result too
        raise OutcomeUnknown("the call was sent but its answer has no resultType")
    if kind != "complete":
        raise OutcomeUnknown(
            f"the server answered the call with a {kind!r} result, which the hub does not take "
            "from remote tools (it gives them no input while they run)"
        )
    try:
        return types.CallToolResult.model_validate(raw, by_name=False)
    except ValidationError:
        raise OutcomeUnknown("the call was sent but its answer is not a tool result") from None


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema, registry=Registry())
    return validator


caches.register(_validator.cache_clear)
# Validators by schema object: a pinned schema is the same dict call after call
# (hub.federation.service keeps pins by hash).
_validator_of = caches.ByObject(
    lambda schema: _validator(json.dumps(schema, sort_keys=True)), 512
).get


def check_output(name: str, schema: dict[str, Any] | None, result: types.CallToolResult) -> None:
    """A successful result must match the tool's pinned output schema (as the SDK's client
    checks); a mismatch is OutcomeUnknown: the tool ran, but its answer cannot be used."""
    if schema is None or result.is_error:
        return
    if result.structured_content is None and "structured_content" not in result.model_fields_set:
        raise OutcomeUnknown(
            f"the tool {name} has an output schema but its result has no structured content"
        )
    try:
        validator = _validator_of(schema)
        error = schema_errors.best_match(validator.iter_errors(result.structured_content))
    except (schema_errors.SchemaError, Unresolvable) as exc:
        raise OutcomeUnknown(f"the pinned output schema of {name} is not usable ({exc})") from None
    if error is not None:
        raise OutcomeUnknown(
            f"the result of {name} does not match its pinned output schema ({error.message[:300]})"
        )
