"""The audit log page: the tenant's events, newest first, filtered by action or run."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from hub.audit import service as audit
from hub.web import state
from hub.web.guard import ConsoleRoute, PageError, console
from hub.web.names import actor_names
from hub.web.render import render
from hub.web.session import Console

# The action families offered as filters.
AUDIT_PREFIXES = (
    "authorization.",
    "connection.",
    "console.",
    "permission.",
    "run.",
    "token.",
)
AUDIT_PAGE = 50

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/audit")
def audit_page(
    request: Request,
    action: str | None = None,
    before: str | None = None,
    run_id: str | None = None,
    c: Console = Depends(console),
) -> Response:
    """One page of events (owners, admins and ops), older ones through `before`."""
    if not c.can_read_audit:
        raise PageError(
            403, "Not allowed", f"Your role ({c.role}) cannot view the audit log; ask an admin."
        )
    typed = (action or "").strip()[:64]
    # "connection" and "connection." both mean every connection action.
    query = typed if not typed or "." in typed else typed + "."
    with state.db(request).session() as s:
        rows = audit.query(
            s,
            c.tenant_id,
            action=query or None,
            run_id=(run_id or "")[:40] or None,
            limit=AUDIT_PAGE + 1,
            before_id=before or None,
        )
        more = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE]
        names = actor_names(s, c.tenant_id, {r.actor for r in rows})
        ctx = {
            "active": "audit",
            "rows": rows,
            "names": names,
            "action": typed,
            "run_id": (run_id or "")[:40],
            "prefixes": AUDIT_PREFIXES,
            "older": rows[-1].id if more and rows else None,
            "paged": bool(before),
        }
        return render(request, "audit.html", ctx, c=c, s=s)
