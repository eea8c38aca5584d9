"""REST for OAuth connections and connection health: start, the provider's callback,
health history and notifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hub.connections import health
from hub.connections.oauth import flow
from hub.connections.oauth.apps import CALLBACK_PATH
from hub.connections.service import get_connection
from hub.core.callers import Caller, admin_only, current_caller
from hub.core.errors import not_found
from hub.core.limits import IdParam
from hub.db.deps import get_session

router = APIRouter(tags=["oauth"])


class StartBody(BaseModel):
    """How the connection was asked for (the console, or an assistant's link)."""

    connected_via: str = Field("ui", pattern="^(ui|assistant)$")
    base_url: str | None = Field(
        None, max_length=500, description="Vendor API base URL override (a sandbox)."
    )


class StartOut(BaseModel):
    """Where to send the user: the provider's consent page."""

    authorize_url: str


@router.post("/api/oauth/{integration}/start", response_model=StartOut)
def start_oauth(
    integration: IdParam,
    request: Request,
    body: StartBody | None = None,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> StartOut:
    """Begin connecting an OAuth integration; answers the provider's authorize URL."""
    url = flow.start(
        s,
        request.app.state.vault,
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        actor=caller.actor,
        integration=integration,
        public_url=request.app.state.settings.base_url,
        connected_via=(body or StartBody()).connected_via,
        base_url=(body or StartBody()).base_url,
    )
    return StartOut(authorize_url=url)


async def oauth_callback(request: Request) -> Response:
    """The provider redirects here with code and state; the connection is then stored.

    A plain Starlette route: providers add parameters of their own (scope, iss, realmId,
    authuser...), which the app-wide unknown-query refusal must not reject."""
    params = {k: v[:2000] for k, v in request.query_params.items()}
    callback_url = request.app.state.settings.base_url.rstrip("/") + request.url.path
    conn = await run_in_threadpool(
        flow.complete,
        request.app.state.db,
        request.app.state.vault,
        params=params,
        callback_url=callback_url,
    )
    after = getattr(request.app.state, "after_connect", None)
    if after is not None:
        await after(conn.tenant_id, conn.id)
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/integrations?connected={conn.integration_slug}", 303)
    return Response(
        content=f'{{"connection_id": "{conn.id}", "integration": "{conn.integration_slug}", '
        f'"status": "{conn.status}"}}',
        media_type="application/json",
    )


router.add_route(CALLBACK_PATH, oauth_callback, methods=["GET"], include_in_schema=False)


class EventOut(BaseModel):
    """One health transition."""

    from_status: str | None
    to_status: str
    reason: str | None
    kind: str | None
    at: str


@router.get("/api/connections/{connection_id}/health", response_model=list[EventOut])
def connection_health(
    connection_id: IdParam,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> list[EventOut]:
    """The connection's health transitions, oldest first."""
    conn = get_connection(s, caller.tenant_id, connection_id)
    return [
        EventOut(
            from_status=e.from_status,
            to_status=e.to_status,
            reason=e.reason,
            kind=e.kind,
            at=e.created_at.isoformat(),
        )
        for e in health.history(s, caller.tenant_id, conn.id)
    ]


class NotificationOut(BaseModel):
    """An alert for owners and admins."""

    id: str
    kind: str
    title: str
    body: str
    integration: str | None
    connection_id: str | None
    email_status: str | None
    created_at: str
    read: bool


def _notification(n: Any) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        kind=n.kind,
        title=n.title,
        body=n.body,
        integration=n.integration_slug,
        connection_id=n.connection_id,
        email_status=n.email_status,
        created_at=n.created_at.isoformat(),
        read=n.read_at is not None,
    )


@router.get("/api/notifications", response_model=list[NotificationOut])
def list_notifications(
    unread: bool = False,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> list[NotificationOut]:
    """The tenant's notifications, newest first (unread=true: only unread ones)."""
    return [_notification(n) for n in health.notifications(s, caller.tenant_id, unread_only=unread)]


@router.post("/api/notifications/{notification_id}/read", status_code=204)
def read_notification(
    notification_id: IdParam,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> Response:
    """Mark a notification read."""
    if not health.mark_read(s, caller.tenant_id, notification_id, caller.actor):
        raise not_found("unread notification")
    return Response(status_code=204)
