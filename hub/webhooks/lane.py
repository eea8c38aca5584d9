"""The door's own lane: vendor webhooks skip FastAPI's request handling.

At thousands of events a second the layers between the server and the door (FastAPI's
telemetry check, Starlette's server-error and exception middleware, the body limit,
matching the path against every route, the endpoint wrapper) cost more of the event loop
than verifying and storing the event. So `/webhooks/...` requests go from the app's first
step (hub.core.lanes) to the same request log and edge guard every request meets, then to
the door, which answers an unexpected failure itself. Anything else goes down the app's
stack unchanged.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.core.guard import EdgeGuard, Limits, refuse
from hub.core.middleware import RequestLogMiddleware
from hub.webhooks.endpoints import PATH_PREFIX
from hub.webhooks.ingest import receive

PREFIX = PATH_PREFIX + "/"
log = logging.getLogger("hub.webhooks")


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
    try:
        response = await receive(Request(scope, receive_))
    except Exception as exc:  # a bug, not the vendor's fault: it must send the event again
        log.error("webhook door failed", extra={"exc_type": type(exc).__name__})
        await refuse(
            send, 500, "internal_error", "The hub failed on this request; send the event again."
        )
        return
    await response(scope, receive_, send)


def webhook_lane(limits: Limits) -> ASGIApp:
    """The lane for `/webhooks/` requests: the request log, the edge guard, the door."""
    return RequestLogMiddleware(EdgeGuard(door, limits=limits))
