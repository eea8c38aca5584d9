"""uvicorn as the hub runs it: a header deadline on every connection, no server banner.

uvicorn waits for a request's headers as long as a client keeps sending bytes, and for a
first request on a new connection forever; a client trickling headers (or connecting and
saying nothing) would hold a connection indefinitely. The protocol here arms a deadline
when a connection opens and when a request starts, and clears it once the headers are in;
past it, the client gets 408 and the connection is closed. Body reads are timed by
hub.core.guard.
"""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.core.settings import Settings

_TIMEOUT_BODY = json.dumps(
    {
        "error": {
            "kind": "timeout",
            "message": "The request headers did not arrive in time; send them whole and promptly.",
        }
    }
).encode()


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a deadline for each request's headers."""

    header_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Arm the deadline as soon as the connection opens."""
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline."""
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A request starts: its headers must be complete before the deadline."""
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        """The headers are in: the request is the app's now."""
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Between requests, uvicorn's keep-alive timeout applies."""
        self._disarm()
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        busy = self.cycle is not None and not self.cycle.response_complete
        if busy:  # the headers of this request did arrive; the app owns it
            return
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: "
            + str(len(_TIMEOUT_BODY)).encode()
            + b"\r\n\r\n"
            + _TIMEOUT_BODY
        )
        self.transport.close()


def settle_heap() -> None:
    """Before serving: take the start-up heap out of the garbage collector's full passes.

    A full collection walked every object the imports, the registry and the ORM made
    (hundreds of thousands), stopping the event loop for 100-200 ms: under webhook load that
    was the p99 acknowledgement. Frozen objects are still freed by reference counting; the
    young generation's threshold is raised because requests allocate in bursts."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def server_config(app: Any, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """The uvicorn config every hub server uses (hub serve, hub up, the tests' live hub)."""
    protocol = type(
        "HubHttpProtocol",
        (HeaderDeadlineProtocol,),
        {"header_timeout_s": settings.header_timeout_s},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=5,
    )
