"""The authorization queue: pending requests, recent decisions, and deciding one.

The console opens here. Owners and admins decide; ops and members read. A decision goes
through the same function as REST (hub.approvals.service.decide_and_run), so Allow Once
runs the call there and then, and the page shows how it went.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.approvals.service import decide_and_run
from hub.approvals.service import present as present_authorization
from hub.core import limits
from hub.core.errors import HubError
from hub.permissions import queue
from hub.permissions.queue import Authorization
from hub.web import present, state
from hub.web.guard import ConsoleRoute, PageError, checked_form, console
from hub.web.names import Lookups, actor_names
from hub.web.render import render
from hub.web.session import Console

# Form value -> (decision, whether to also grant a standing permission).
DECISIONS = {
    "allow_once": ("authorized", False),
    "allow_always": ("authorized", True),
    "deny": ("denied", False),
}

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _auth_view(
    s: Session, auth: Authorization, look: Lookups, names: dict[str, str]
) -> dict[str, Any]:
    p = present_authorization(s, auth)
    title, secret_fields = look.tool(auth.tool)
    provider = look.integration(auth.provider)
    args = present.redact(auth.args, secret_fields)
    outcome = p.get("outcome") or None
    return {
        "id": auth.id,
        "tool": auth.tool,
        "title": title,
        "provider": provider,
        "summary": present.summarize(auth.tool, args, provider),
        "args": args,
        "reason": auth.reason,
        "reasoning": auth.reasoning,
        "status": p["status"],
        "state": present.AUTH_STATE.get(p["status"], "muted"),
        "created_at": auth.created_at,
        "expires_at": auth.expires_at,
        "decided_at": auth.decided_at,
        "decided_by": names.get(auth.decided_by or "", auth.decided_by),
        "agent": names.get(auth.caller, auth.caller),
        "notes": auth.notes,
        "upgrade_permission": auth.upgrade_permission,
        "outcome": outcome,
        "run_id": p.get("run_id"),
        "message": p.get("message"),
    }


def _authorizations_page(
    request: Request,
    c: Console,
    *,
    decided: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    with state.db(request).session() as s:
        pending, _ = queue.list_authorizations(s, c.caller, status="pending", limit=100)
        recent, _ = queue.list_authorizations(s, c.caller, status="all", limit=80)
        history = [a for a in recent if a.status != "pending"][:50]
        look = Lookups(s)
        actors = {a.decided_by for a in history if a.decided_by}
        actors |= {a.caller for a in [*pending, *history]}
        names = actor_names(s, c.tenant_id, actors)
        banner = None
        if decided:
            try:
                one = queue.get_authorization(s, c.caller, decided)
                banner = _auth_view(s, one, look, names)
            except HubError:
                banner = None
        ctx = {
            "active": "authorizations",
            "pending": [_auth_view(s, a, look, names) for a in pending],
            "history": [_auth_view(s, a, look, names) for a in history],
            "banner": banner,
            "error": error,
        }
        return render(request, "authorizations.html", ctx, c=c, status=status, s=s)


@router.get("/")
def home() -> Response:
    """The console opens on the authorization queue."""
    return RedirectResponse("/authorizations", status_code=303)


@router.get("/authorizations")
def authorizations(
    request: Request, decided: str | None = None, c: Console = Depends(console)
) -> Response:
    """The queue, with the outcome of the request just decided (`decided`) on top."""
    return _authorizations_page(request, c, decided=decided)


@router.post("/authorizations/{auth_id}/decide")
async def decide(auth_id: str, request: Request, c: Console = Depends(console)) -> Response:
    """Allow once, allow always or deny one request; an approved call runs now."""
    form = await checked_form(request, c)
    if not c.can_decide:
        raise PageError(
            403,
            "Not allowed",
            f"Your role ({c.role}) can view authorization requests but not decide them; "
            "an owner or admin decides. Nothing was changed.",
        )
    choice = DECISIONS.get(str(form.get("decision") or ""))
    if choice is None:
        raise PageError(400, "Bad request", "Choose Allow Once, Allow Always or Deny.")
    decision, upgrade = choice
    try:
        # The same bound as REST's notes: refused when over, never cut silently.
        typed = limits.check_text(str(form.get("note") or ""), "note", max_len=limits.NOTE_MAX)
        note = typed.strip() or None
        await decide_and_run(state.calls(request), c.caller, auth_id, decision, note, upgrade)
    except HubError as exc:
        if exc.status == 404:
            raise
        message, code = exc.message, exc.status
        return await anyio.to_thread.run_sync(
            lambda: _authorizations_page(request, c, error=message, status=code)
        )
    return RedirectResponse(f"/authorizations?decided={quote(auth_id)}", status_code=303)
