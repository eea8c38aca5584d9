"""The alert banner's one action: an owner or admin marks an alert read."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.connections import health
from hub.web import state
from hub.web.guard import ConsoleRoute, PageError, checked_form, console
from hub.web.session import Console

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _back_to(raw: object) -> str:
    """The console page the banner was on; anything else (another site, `//host`) goes home."""
    path = str(raw or "")
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path[:300]
    return "/integrations"


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    notification_id: str, request: Request, c: Console = Depends(console)
) -> Response:
    """Mark one alert read (owners and admins, who are the ones it was raised for)."""
    form = await checked_form(request, c)
    if not c.can_manage:
        raise PageError(
            403,
            "Not allowed",
            f"Your role ({c.role}) does not receive connection alerts; an owner or admin "
            "marks them read. Nothing was changed.",
        )
    with state.db(request).session() as s:
        health.mark_read(s, c.tenant_id, notification_id[:40], c.caller.actor)
    return RedirectResponse(_back_to(form.get("next")), status_code=303)
