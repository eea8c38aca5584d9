"""REST route for querying the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from hub.audit import service
from hub.core.callers import Caller
from hub.core.limits import IdParam, IsoDateTime, NameParam
from hub.core.reads import reader
from hub.db.deps import get_session

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditOut(BaseModel):
    """One audit row."""

    id: str
    created_at: datetime
    actor: str
    action: str
    target: str | None
    integration: str | None
    run_id: str | None
    success: bool
    error_message: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audit rows, newest first; pass next_cursor as cursor for more."""

    data: list[AuditOut]
    next_cursor: str | None


@router.get("", response_model=AuditPage)
def query_audit(
    action: NameParam | None = Query(None, description="Exact action, or a prefix ending in '.'"),
    integration: NameParam | None = None,
    run_id: IdParam | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    success: bool | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: IdParam | None = Query(None, description="next_cursor of the previous page"),
    caller: Caller = Depends(reader("audit")),
    s: Session = Depends(get_session, scope="function"),
) -> AuditPage:
    """Audit rows of this tenant, filtered, newest first."""
    rows = service.query(
        s,
        caller.tenant_id,
        action=action,
        integration=integration,
        run_id=run_id,
        since=since,
        until=until,
        success=success,
        limit=limit + 1,
        before_id=cursor,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        data=[AuditOut.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=rows[-1].id if more and rows else None,
    )
