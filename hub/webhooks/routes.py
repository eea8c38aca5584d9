"""REST: the events the tenant's vendors sent (`/api/events`), replay, and a connection's
webhook settings (`/api/connections/{id}/webhook`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.core import limits
from hub.core.callers import Caller, admin_only, current_caller
from hub.core.limits import IdParam, IsoDateTime, NameParam
from hub.db.deps import get_session
from hub.webhooks import service
from hub.webhooks.models import EventStatus

router = APIRouter(tags=["events"])


class EventOut(BaseModel):
    """A stored inbound event and its delivery state."""

    id: str
    provider: str
    type: str
    status: str
    attempts: int
    replays: int
    last_error: str | None
    vendor_event_id: str
    received_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    result: dict[str, Any] | None
    payload: Any = None


class EventList(BaseModel):
    """GET /api/events (newest first; page with `before`)."""

    data: list[EventOut]
    dead_letter_count: int


class WebhookOut(BaseModel):
    """A connection's webhook endpoint: paste `webhook_url` into the vendor's settings."""

    endpoint_id: str
    webhook_url: str
    provider: str
    scheme: str | None
    scheme_overridden: bool
    secrets: dict[str, str] = Field(description="Masked hints of the endpoint's own secrets.")
    refused_count: int
    last_refused_at: datetime | None
    last_refusal: str | None


class WebhookUpdate(BaseModel):
    """PUT /api/connections/{id}/webhook: only the given parts change."""

    model_config = ConfigDict(extra="forbid")

    signing_secret: str | None = Field(
        None,
        min_length=1,
        max_length=limits.CREDENTIAL_MAX,
        description="The vendor's signing secret for this endpoint (kept in the vault). "
        "Without one, the connection's own credential field named by the registry is used.",
    )
    verify_token: str | None = Field(
        None, min_length=1, max_length=200, description="Meta's subscription verify token."
    )
    scheme: str | None = Field(
        None,
        max_length=64,
        description="Override the integration's signature scheme (e.g. standard_webhooks); "
        "empty restores it.",
    )


def _base(request: Request) -> str:
    return request.app.state.settings.base_url


@router.get("/api/events", response_model=EventList)
def list_events(
    provider: NameParam | None = None,
    type: str | None = Query(None, max_length=120, description="Exact, or a prefix ending in '.'"),
    status: EventStatus | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    before: IdParam | None = None,
    limit: int = Query(50, ge=1, le=200),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> EventList:
    """Inbound events of this tenant, newest first, with the dead-letter count."""
    rows = service.list_events(
        s,
        caller.tenant_id,
        provider=provider,
        event_type=type,
        status=status,
        since=since,
        until=until,
        before_id=before,
        limit=limit,
    )
    return EventList(
        data=[EventOut(**service.event_view(e)) for e in rows],
        dead_letter_count=service.dead_count(s, caller.tenant_id),
    )


@router.get("/api/events/{event_id}", response_model=EventOut)
def get_event(
    event_id: IdParam,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> EventOut:
    """One event with its payload."""
    return EventOut(**service.event_view(service.get_event(s, caller.tenant_id, event_id)))


@router.post("/api/events/{event_id}/replay", response_model=EventOut)
def replay_event(
    event_id: IdParam,
    request: Request,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> EventOut:
    """Deliver an event again (a dead-lettered one, or one to re-run); admins only."""
    ev = service.replay(s, caller.tenant_id, caller.actor, event_id)
    out = EventOut(**service.event_view(ev))
    s.commit()
    door = getattr(request.app.state, "webhook_door", None)
    if door is not None:
        door.wake()
    return out


@router.get("/api/connections/{connection_id}/webhook", response_model=WebhookOut)
def get_webhook(
    connection_id: IdParam,
    request: Request,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> WebhookOut:
    """The connection's webhook URL, scheme and masked secret hints."""
    return WebhookOut(
        **service.connection_webhook(
            s, request.app.state.vault, _base(request), caller.tenant_id, connection_id
        )
    )


@router.put("/api/connections/{connection_id}/webhook", response_model=WebhookOut)
def put_webhook(
    connection_id: IdParam,
    body: WebhookUpdate,
    request: Request,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> WebhookOut:
    """Set the endpoint's signing secret, Meta verify token or scheme; admins only."""
    service.configure(
        s,
        request.app.state.vault,
        caller.tenant_id,
        caller.actor,
        connection_id,
        signing_secret=body.signing_secret,
        verify_token=body.verify_token,
        scheme=body.scheme,
    )
    return WebhookOut(
        **service.connection_webhook(
            s, request.app.state.vault, _base(request), caller.tenant_id, connection_id
        )
    )
