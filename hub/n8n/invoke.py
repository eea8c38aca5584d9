"""Calling a workflow's webhook: the one network hop of every tool call.

A small HTTP/1.1 keep-alive client on asyncio, with httptools (the parser uvicorn serves the
hub with) reading the answers. This hop runs once per tool call and only ever POSTs JSON to
one n8n. Against a real n8n, alternating rounds with an httpx client behind the same
protocol, it was faster in 26 of 30 rounds (6-15 % at the median) and used 0.4-0.5 ms of CPU
per call against httpx's 2.2-2.8 ms (bench/RESULTS.md, bench.invoker_bench).

It implements the call path's Hop (hub.core.hop): NotSent when the request provably never
reached n8n (a retry may run the call again), OutcomeUnknown once it may have (never resent).
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httptools

from hub.core.hop import NotSent, OutcomeUnknown

WEBHOOK_AUTH_HEADER = "X-Hub-Webhook-Token"

# Below Node's 5 s keep-alive timeout (n8n's HTTP server): the hub drops an idle connection
# before n8n can close it under a request in flight, which would make the outcome unknown.
KEEPALIVE_S = 3.0
CONNECT_TIMEOUT_S = 2.0
MAX_IDLE = 64
MAX_ANSWER_BYTES = 16 * 1024 * 1024
SAFE_PATH = re.compile(r"[A-Za-z0-9/_.\-]+")


class _Lost(Exception):
    """The connection ended before the whole answer arrived."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection to n8n; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self._body: list[bytes] = []
        self._size = 0
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # nothing was asked: a confused peer
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("an answer that is not HTTP")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail("the connection closed before the answer was complete")

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_ANSWER_BYTES:
            self._fail("an answer over 16 MiB")
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(
                (
                    self._parser.get_status_code(),
                    b"".join(self._body),
                    self._parser.should_keep_alive(),
                )
            )

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes, bool]]:
        """Send one request; the future gets (status, body, keep_alive)."""
        self._waiter = self._loop.create_future()
        self._body, self._size = [], 0
        assert self.transport is not None
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        """Close the connection."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, why: str) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(_Lost(why))


class WebhookInvoker:
    """POSTs run bodies to n8n webhooks over kept-alive connections."""

    def __init__(self, base_url: str, webhook_secret: str, *, timeout_s: float = 60.0) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the n8n URL must be http(s)://host[:port][/path]")
        if "\r" in webhook_secret or "\n" in webhook_secret:
            raise ValueError("the webhook secret must be a single line")
        self.base_url = base_url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._prefix = parts.path
        # An IPv6 literal keeps its brackets in the Host header (RFC 9110 7.2).
        host = f"[{self._host}]" if ":" in self._host else self._host
        host_header = host if parts.port is None else f"{host}:{self._port}"
        self._head = (
            f"Host: {host_header}\r\nContent-Type: application/json\r\n"
            f"{WEBHOOK_AUTH_HEADER}: {webhook_secret}\r\nConnection: keep-alive\r\n"
        )
        self.timeout_s = timeout_s
        self._idle: list[_Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def post(self, path: str, body: dict[str, Any], timeout_s: float | None = None) -> dict:
        """POST the body to /webhook/<path>; returns the workflow's JSON answer."""
        if not SAFE_PATH.fullmatch(path):
            raise NotSent(f"refusing webhook path {path!r}: it must be hub/<integration>/...")
        payload = json.dumps(body).encode()
        data = (
            f"POST {self._prefix}/webhook/{path} HTTP/1.1\r\n{self._head}"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode("latin-1") + payload
        conn = self._take_idle() or await self._connect()
        try:
            async with asyncio.timeout(timeout_s or self.timeout_s):
                status, raw, keep = await conn.request(data)
        except TimeoutError:
            conn.close()
            raise OutcomeUnknown("no answer from n8n (timed out)") from None
        except _Lost as exc:
            conn.close()
            raise OutcomeUnknown(f"no answer from n8n ({exc})") from None
        except BaseException:
            conn.close()  # cancelled mid-request: the connection's state is unknown
            raise
        self._put_idle(conn, keep)
        return answer(status, raw, path)

    def _take_idle(self) -> _Connection | None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections belong to the loop that made them (tests run apps on several loops).
            self._idle, self._loop = [], loop
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < KEEPALIVE_S:
                return conn
            conn.close()
        return None

    def _put_idle(self, conn: _Connection, keep_alive: bool) -> None:
        if keep_alive and not conn.closed and len(self._idle) < MAX_IDLE:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop), self._host, self._port, ssl=self._ssl
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise NotSent(
                f"n8n is not reachable at {self.base_url} ({type(exc).__name__})"
            ) from None
        return conn

    async def aclose(self) -> None:
        """Close idle connections."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def answer(status: int, raw: bytes, path: str) -> dict[str, Any]:
    """The workflow's answer, or the failure it stands for."""
    if status == 404:
        raise NotSent(f"n8n has no active webhook {path}: deploy it with `hub workflows deploy`")
    if status == 403:
        raise NotSent(
            "n8n refused the hub's webhook credential: run `hub workflows deploy` "
            "to re-provision it"
        )
    try:
        data = json.loads(raw)
    except ValueError:
        raise OutcomeUnknown(f"n8n answered {status} without JSON") from None
    if not isinstance(data, dict) or "ok" not in data:
        raise OutcomeUnknown(
            f"n8n answered {status} outside the hub's contract (workflow failed before responding)"
        )
    return data
