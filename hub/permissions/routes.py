"""REST: Allow Always overrides (the authorization queue itself is hub.approvals')."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from hub.core.callers import Caller, admin_only
from hub.core.limits import IdParam
from hub.db.deps import get_session
from hub.permissions import overrides
from hub.permissions.schemas import OverrideList, OverrideOut

router = APIRouter(tags=["authorizations"])
_session = Depends(get_session, scope="function")


@router.get("/api/permission-overrides", response_model=OverrideList)
def list_overrides(
    include_revoked: bool = False,
    caller: Caller = Depends(admin_only),
    s: Session = _session,
) -> OverrideList:
    """This tenant's Allow Always overrides."""
    rows = overrides.list_overrides(s, caller.tenant_id, include_revoked)
    return OverrideList(data=[OverrideOut.model_validate(r, from_attributes=True) for r in rows])


@router.delete("/api/permission-overrides/{override_id}", response_model=OverrideOut)
def revoke_override(
    override_id: IdParam, caller: Caller = Depends(admin_only), s: Session = _session
) -> OverrideOut:
    """Withdraw an Allow Always; matching calls need a human again."""
    return OverrideOut.model_validate(
        overrides.revoke_override(s, caller, override_id), from_attributes=True
    )
