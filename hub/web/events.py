"""The Events page: inbound vendor webhooks, their delivery state, and replay (admins)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.core.errors import HubError
from hub.web import state
from hub.web.guard import ConsoleRoute, PageError, checked_form, console
from hub.web.render import render
from hub.web.session import Console
from hub.webhooks import service as webhooks

EVENTS_PAGE = 50

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/events")
def events_page(
    request: Request,
    status: str | None = None,
    provider: str | None = None,
    before: str | None = None,
    replayed: str | None = None,
    c: Console = Depends(console),
) -> Response:
    """Recent events, newest first: provider, type, status, attempts, last error."""
    wanted = status if status in webhooks.EVENT_STATUSES else None
    with state.db(request).session() as s:
        rows = webhooks.list_events(
            s,
            c.tenant_id,
            status=wanted,
            provider=(provider or "")[:64] or None,
            before_id=(before or "")[:40] or None,
            limit=EVENTS_PAGE + 1,
        )
        more = len(rows) > EVENTS_PAGE
        rows = rows[:EVENTS_PAGE]
        ctx = {
            "active": "events",
            "rows": rows,
            "status": wanted or "",
            "provider": (provider or "")[:64],
            "statuses": webhooks.EVENT_STATUSES,
            "older": rows[-1].id if more and rows else None,
            "replayed": (replayed or "")[:40],
        }
        return render(request, "events.html", ctx, c=c, s=s)


@router.post("/events/{event_id}/replay")
async def replay(event_id: str, request: Request, c: Console = Depends(console)) -> Response:
    """Queue one event for delivery again (owners and admins)."""
    await checked_form(request, c)
    if not c.can_manage:
        raise PageError(
            403,
            "Not allowed",
            f"Your role ({c.role}) can view events but not replay them; an owner or admin "
            "replays. Nothing was changed.",
        )
    try:
        with state.db(request).session() as s:
            webhooks.replay(s, c.tenant_id, c.caller.actor, event_id[:40])
    except HubError as exc:
        if exc.status == 404:
            raise
        raise PageError(exc.status, "Not replayed", exc.message) from None
    door = getattr(request.app.state, "webhook_door", None)
    if door is not None:
        door.wake()
    return RedirectResponse(f"/events?replayed={quote(event_id[:40])}", status_code=303)
