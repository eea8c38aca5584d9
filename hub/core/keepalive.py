"""Kept-alive HTTP/1.1 client connections on asyncio, read with httptools (the parser uvicorn
serves the hub with): the connection of the hub's two hot outbound hops, n8n webhooks
(hub.n8n.invoke) and stateless remote MCP servers (hub.federation.sessions).

Each hop POSTs one request at a time on a connection and keeps it for the next call. Against
an httpx client behind the same protocol this used 0.4-0.5 ms of CPU per n8n call against
httpx's 2.2-2.8 ms (bench/RESULTS.md, bench.invoker_bench); a remote MCP call through the
SDK's client cost the hub about 1.5 ms of CPU more than a POST on one of these.

An answer is read whole, or, when the caller hands a `feed` for it, chunk by chunk until the
feed has what it needs (a streamed answer whose rest is not wanted: the connection is then
closed rather than kept, since the unread rest would be read as the next answer).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httptools

MAX_ANSWER_BYTES = 16 * 1024 * 1024
CONNECT_TIMEOUT_S = 2.0

# A chunk of the answer's body in; True once it has what it needs (the rest is not read).
Feed = Callable[[bytes], bool]
# The answer's status and headers in; a Feed to stream its body into, or None to read it whole.
FeedFor = Callable[[int, dict[str, str]], Feed | None]


class Lost(Exception):
    """The connection ended, or the answer broke a limit, before the whole answer arrived."""


@dataclass(slots=True)
class Answer:
    """One HTTP answer: status, headers (lower-case names), the body unless a feed took it."""

    status: int
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_bytes: int = MAX_ANSWER_BYTES) -> None:
        self._loop = loop
        self.max_bytes = max_bytes
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._body: list[bytes] = []
        self._headers: dict[str, str] = {}
        self._size = 0
        self._feed_for: FeedFor | None = None
        self._feed: Feed | None = None
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
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._feed_for is not None:
            self._feed = self._feed_for(self._parser.get_status_code(), self._headers)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.max_bytes:
            self._fail(f"an answer over {self.max_bytes // (1024 * 1024)} MiB")
            self.close()
            return
        if self._feed is None:
            self._body.append(body)
        elif self._feed(body):
            self._resolve(False)
            self.close()  # the rest of the stream is not read: the connection cannot be reused

    def on_message_complete(self) -> None:
        self._resolve(self._parser.should_keep_alive())

    def request(self, data: bytes, feed_for: FeedFor | None = None) -> asyncio.Future[Answer]:
        """Send one request; the future gets its Answer (or Lost)."""
        self._waiter = self._loop.create_future()
        self._body, self._headers, self._size = [], {}, 0
        self._feed_for, self._feed = feed_for, None
        assert self.transport is not None
        self.transport.write(data)
        return self._waiter

    async def exchange(
        self, data: bytes, timeout_s: float, feed_for: FeedFor | None = None
    ) -> Answer:
        """Send one request and wait for its answer; on any failure (TimeoutError, Lost, a
        cancellation) the connection is closed, since its state is unknown."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self.request(data, feed_for)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _resolve(self, keep_alive: bool) -> None:
        if self._waiter is not None and not self._waiter.done():
            status = self._parser.get_status_code()
            body = b"".join(self._body)
            self._waiter.set_result(Answer(status, self._headers, body, keep_alive))

    def _fail(self, why: str) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(Lost(why))


async def connect(
    host: str,
    port: int,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> Connection:
    """Open a connection (OSError, TimeoutError or ssl.SSLError when it cannot be had).
    `server_hostname` names the host for TLS (SNI and the certificate) when `host` is the
    address it resolved to."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout_s):
        _, conn = await loop.create_connection(
            lambda: Connection(loop, max_bytes),
            host,
            port,
            ssl=tls,
            server_hostname=server_hostname if tls is not None else None,
        )
    return conn


class Idle:
    """The idle connections of one destination, on the event loop that made them."""

    def __init__(self, keep_s: float, max_idle: int = 64) -> None:
        self.keep_s = keep_s
        self.max_idle = max_idle
        self._idle: list[Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def take(self) -> Connection | None:
        """An idle connection that is still open and fresh, or None."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections belong to the loop that made them (tests run apps on several loops).
            self._idle, self._loop = [], loop
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.keep_s:
                return conn
            conn.close()
        return None

    def put(self, conn: Connection, keep_alive: bool) -> None:
        """Keep the connection for the next request, or close it."""
        if keep_alive and not conn.closed and len(self._idle) < self.max_idle:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    def __len__(self) -> int:
        return sum(1 for c in self._idle if not c.closed)

    def close(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
