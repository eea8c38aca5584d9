"""The console's "Connect with X" for OAuth integrations: a signed-in owner or admin posts the
form, the hub starts the flow bound to that user, and the browser goes to the provider's
consent page; the provider sends it back to /oauth/callback, then to /integrations."""

from __future__ import annotations

import html

import anyio
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hub.connections.oauth import flow
from hub.core.errors import HubError
from hub.web import state
from hub.web.guard import ConsoleRoute, PageError, checked_form, console
from hub.web.session import Console

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


@router.post("/integrations/{slug}/oauth")
async def start_oauth(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """Start connecting (or reconnecting) an OAuth integration and go to its consent page."""
    await checked_form(request, c)
    if not c.can_manage:
        raise PageError(403, "Not allowed", "Only owners and admins can connect integrations.")
    settings = request.app.state.settings

    def _start() -> str:
        with state.db(request).session() as s:
            return flow.start(
                s,
                state.vault(request),
                tenant_id=c.tenant_id,
                user_id=c.caller.user_id,
                actor=c.caller.actor,
                integration=slug,
                public_url=settings.base_url,
                connected_via="ui",
            )

    try:
        url = await anyio.to_thread.run_sync(_start)
    except HubError as exc:
        raise PageError(exc.status, "Cannot connect", exc.message) from None
    # Not a redirect: the console's CSP (form-action 'self') stops a form's redirect to
    # another origin. A page that moves on by itself (and offers the link) is not a form
    # action, and keeps that policy strict for every other form.
    link = html.escape(url, quote=True)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={link}">'
        "<title>Continue to the provider</title></head><body>"
        f'<p><a href="{link}">Continue to the provider to approve access</a></p></body></html>'
    )
    return HTMLResponse(body, headers={"Referrer-Policy": "no-referrer"})
