"""An app with lanes: path prefixes that a bare ASGI app serves ahead of FastAPI's stack.

For routes where FastAPI's per-request layers (its telemetry check, the server-error,
exception and body-limit middleware, routing against every route) cost more of the event
loop than the work itself: vendor webhooks at thousands a second (hub.webhooks.lane). A lane
brings its own logging, bounds and error answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class LanedApp(FastAPI):
    """FastAPI, with `add_lane(prefix, app)` for HTTP requests under a path prefix."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lanes: list[tuple[str, ASGIApp]] = []

    def add_lane(self, prefix: str, app: ASGIApp) -> None:
        """Serve HTTP requests whose path starts with `prefix` by `app` alone."""
        self.lanes.append((prefix, app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            for prefix, lane in self.lanes:
                if path.startswith(prefix):
                    scope["app"] = self  # what Starlette sets: request.app reaches the state
                    await lane(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)
