"""REST: the authorization queue (list, read, decide)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from hub.approvals.service import decide_and_run, present
from hub.core.callers import Caller, admin_only, current_caller
from hub.core.limits import IdParam, NameParam
from hub.db.deps import get_session
from hub.permissions import queue
from hub.permissions.queue import AUTHORIZATION_STATUSES
from hub.permissions.schemas import AuthorizationOut, AuthorizationPage, DecisionIn

router = APIRouter(tags=["authorizations"])
# Commit before the response is sent (a request-scoped session would commit after it, and a
# client acting on the answer at once could read the state from before its own change).
_session = Depends(get_session, scope="function")

_STATUS_HELP = f"One of {', '.join(AUTHORIZATION_STATUSES)}, or 'all' (default pending)."


@router.get("/api/authorizations", response_model=AuthorizationPage)
def list_authorizations(
    status: Literal["pending", "authorized", "denied", "expired", "all"] = Query(
        "pending", description=_STATUS_HELP
    ),
    tool: NameParam | None = None,
    limit: int = Query(50, ge=1, le=200),
    cursor: IdParam | None = None,
    caller: Caller = Depends(current_caller),
    s: Session = _session,
) -> AuthorizationPage:
    """Queued calls of this tenant (agent tokens see only their own)."""
    rows, nxt = queue.list_authorizations(
        s, caller, status=status, tool=tool, limit=limit, cursor=cursor
    )
    return AuthorizationPage(
        data=[AuthorizationOut(**present(s, a)) for a in rows],
        next_cursor=nxt,
        pending=queue.pending_for_tenant(s, caller.tenant_id),
    )


@router.get("/api/authorizations/{auth_id}", response_model=AuthorizationOut)
def get_authorization(
    auth_id: IdParam, caller: Caller = Depends(current_caller), s: Session = _session
) -> AuthorizationOut:
    """One queued call and its state (agents poll this for their own)."""
    return AuthorizationOut(**present(s, queue.get_authorization(s, caller, auth_id)))


@router.post("/api/authorizations/{auth_id}", response_model=AuthorizationOut)
async def decide(
    auth_id: IdParam, body: DecisionIn, request: Request, caller: Caller = Depends(admin_only)
) -> AuthorizationOut:
    """Allow Once, Allow Always (upgrade_permission) or Deny; an approval runs the call now."""
    out = await decide_and_run(
        request.app.state.calls,
        caller,
        auth_id,
        body.decision or "",
        body.notes,
        body.upgrade_permission,
    )
    return AuthorizationOut(**out)
