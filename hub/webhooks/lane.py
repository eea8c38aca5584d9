"""The door's own lane: vendor webhooks skip FastAPI's routing and exception layers.

At a thousand events a second the layers between the outermost middleware and the door
(Starlette's exception middleware, FastAPI's exit stack, matching the path against every
route, the endpoint wrapper) cost more of the event loop than verifying and storing the
event. So the lane sits just inside the app's server-error middleware and hands
`/webhooks/...` requests to the same request log and edge guard every request meets, then
to the door. Anything else goes down the app's stack unchanged.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.core.guard import EdgeGuard, Limits, refuse
from hub.core.middleware import RequestLogMiddleware
from hub.webhooks.endpoints import PATH_PREFIX
from hub.webhooks.ingest import receive

PREFIX = PATH_PREFIX + "/"


async def door(scope: Scope, receive_: Receive, send: Send) -> None:
    """`POST|GET /webhooks/{provider}/{endpoint_id}` as a bare ASGI app."""
    parts = scope["path"][len(PREFIX) :].split("/")
    if len(parts) != 2 or not all(parts):
        await refuse(send, 404, "not_found", "No webhook endpoint at this URL.")
        return
    if scope["method"] not in ("POST", "GET"):
        await refuse(
            send,
            405,
            "method_not_allowed",
            "Webhook endpoints take POST (and GET for Meta's subscription check).",
        )
        return
    scope["path_params"] = {"provider": parts[0], "endpoint_id": parts[1]}
    response = await receive(Request(scope, receive_))
    await response(scope, receive_, send)


class WebhookLane:
    """ASGI middleware: `/webhooks/` requests go to the door through the log and guard."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.door = RequestLogMiddleware(EdgeGuard(door, limits=limits))

    async def __call__(self, scope: Scope, receive_: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.door(scope, receive_, send)
            return
        await self.app(scope, receive_, send)
