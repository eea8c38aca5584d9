"""REST: the authorization queue (seed 001) and Allow Always overrides."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from hub.accounts.auth import admin_only, current_caller
from hub.accounts.service import Caller
from hub.db.deps import get_session
from hub.permissions import service
from hub.permissions.execution import decide_and_run
from hub.permissions.models import AUTHORIZATION_STATUSES
from hub.permissions.schemas import (
    AuthorizationOut,
    AuthorizationPage,
    DecisionIn,
    OverrideList,
    OverrideOut,
)

router = APIRouter(tags=["authorizations"])
# Commit before the response is sent (a request-scoped session would commit after it, and a
# client acting on the answer at once could read the state from before its own change).
_session = Depends(get_session, scope="function")

_STATUS_HELP = f"One of {', '.join(AUTHORIZATION_STATUSES)}, or 'all' (default pending)."


@router.get("/api/authorizations", response_model=AuthorizationPage)
def list_authorizations(
    status: str = Query("pending", description=_STATUS_HELP),
    tool: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = None,
    caller: Caller = Depends(current_caller),
    s: Session = _session,
) -> AuthorizationPage:
    """Queued calls of this tenant (agent tokens see only their own)."""
    if status not in (*AUTHORIZATION_STATUSES, "all"):
        from hub.core.errors import HubError

        raise HubError("invalid_request", f"status: {_STATUS_HELP}", details={"field": "status"})
    rows, nxt = service.list_authorizations(
        s, caller, status=status, tool=tool, limit=limit, cursor=cursor
    )
    return AuthorizationPage(
        data=[AuthorizationOut(**service.present(s, a)) for a in rows],
        next_cursor=nxt,
        pending=service.pending_for_tenant(s, caller.tenant_id),
    )


@router.get("/api/authorizations/{auth_id}", response_model=AuthorizationOut)
def get_authorization(
    auth_id: str, caller: Caller = Depends(current_caller), s: Session = _session
) -> AuthorizationOut:
    """One queued call and its state (agents poll this for their own)."""
    return AuthorizationOut(**service.present(s, service.get_authorization(s, caller, auth_id)))


@router.post("/api/authorizations/{auth_id}", response_model=AuthorizationOut)
async def decide(
    auth_id: str, body: DecisionIn, request: Request, caller: Caller = Depends(admin_only)
) -> AuthorizationOut:
    """Allow Once, Allow Always (upgrade_permission) or Deny; an approval runs the call now."""
    out = await decide_and_run(
        request.app.state.runtime,
        caller,
        auth_id,
        body.decision or "",
        body.notes,
        body.upgrade_permission,
    )
    return AuthorizationOut(**out)


@router.get("/api/permission-overrides", response_model=OverrideList)
def list_overrides(
    include_revoked: bool = False,
    caller: Caller = Depends(admin_only),
    s: Session = _session,
) -> OverrideList:
    """This tenant's Allow Always overrides."""
    rows = service.list_overrides(s, caller.tenant_id, include_revoked)
    return OverrideList(data=[OverrideOut.model_validate(r, from_attributes=True) for r in rows])


@router.delete("/api/permission-overrides/{override_id}", response_model=OverrideOut)
def revoke_override(
    override_id: str, caller: Caller = Depends(admin_only), s: Session = _session
) -> OverrideOut:
    """Withdraw an Allow Always; matching calls need a human again."""
    return OverrideOut.model_validate(
        service.revoke_override(s, caller, override_id), from_attributes=True
    )
