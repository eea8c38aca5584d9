"""ASGI middleware: request ids and one structured access line per request."""

from __future__ import annotations

import logging
import random
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.core.logs import request_id_var, run_id_var

log = logging.getLogger("hub.http")


class RequestLogMiddleware:
    """Tags each request with an id (X-Request-Id) and logs method, path, status, duration.

    Query strings are not logged: paths are enough and queries are where people paste things.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An id to correlate lines, not a secret: no system call per request for it.
        rid = f"{random.getrandbits(64):016x}"
        token = request_id_var.set(rid)
        run_token = run_id_var.set(None)
        start = time.perf_counter()
        status = 0  # no response started: the client went away first

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request" if status else "request ended by the client",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status or None,
                        "ms": round((time.perf_counter() - start) * 1000, 2),
                    },
                )
            request_id_var.reset(token)
            run_id_var.reset(run_token)
