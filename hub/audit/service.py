"""Writing and querying the audit log.

AuditEvent is exposed here for callers that type what they get back; only hub.audit
imports the models module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.audit.models import AuditEvent
from hub.core.errors import not_found
from hub.db.base import new_id, table_of, utcnow

__all__ = ["AuditEvent", "append", "get_event", "query", "record"]


def record(
    s: Session,
    tenant_id: str,
    actor: str,
    action: str,
    *,
    target: str | None = None,
    integration: str | None = None,
    run_id: str | None = None,
    success: bool = True,
    error_message: str | None = None,
    ip_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit row in the caller's transaction. Never pass secret values."""
    ev = AuditEvent(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        target=target,
        integration=integration,
        run_id=run_id,
        success=success,
        error_message=error_message,
        ip_address=ip_address,
        details=details or {},
    )
    s.add(ev)
    return ev


_INSERT = table_of(AuditEvent).insert()


def append(s: Session, tenant_id: str, actor: str, action: str, **fields: Any) -> str:
    """record() as one Core INSERT, for the call path (no ORM object); returns the row id.

    Takes record()'s keyword fields; an unknown one fails the statement.
    """
    event_id = new_id("aud")
    s.connection().execute(
        _INSERT,
        {
            "id": event_id,
            "tenant_id": tenant_id,
            "actor": actor,
            "action": action,
            "created_at": utcnow(),
            **fields,
        },
    )
    return event_id


def get_event(s: Session, tenant_id: str, event_id: str) -> AuditEvent:
    """One audit row of this tenant (the same 404 for any other)."""
    e = s.get(AuditEvent, event_id)
    if e is None or e.tenant_id != tenant_id:
        raise not_found("audit event")
    return e


def query(
    s: Session,
    tenant_id: str,
    *,
    action: str | None = None,
    actor: str | None = None,
    integration: str | None = None,
    target: str | None = None,
    run_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    success: bool | None = None,
    search: str | None = None,
    limit: int = 50,
    before_id: str | None = None,
    offset: int = 0,
) -> list[AuditEvent]:
    """Newest-first audit rows of one tenant, filtered; page with `before_id` or `offset`.

    `action` is exact, or a prefix when it ends in '.'; `search` looks in action and target.
    """
    q = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if action:
        # 'connection.' matches every connection action.
        q = q.where(
            AuditEvent.action.startswith(action)
            if action.endswith(".")
            else AuditEvent.action == action
        )
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if integration:
        q = q.where(AuditEvent.integration == integration)
    if target:
        q = q.where(AuditEvent.target == target)
    if search:
        low = search.lower()
        q = q.where(
            or_(
                func.lower(AuditEvent.action).contains(low, autoescape=True),
                func.lower(AuditEvent.target).contains(low, autoescape=True),
            )
        )
    if run_id:
        q = q.where(AuditEvent.run_id == run_id)
    if since:
        q = q.where(AuditEvent.created_at >= since)
    if until:
        q = q.where(AuditEvent.created_at < until)
    if success is not None:
        q = q.where(AuditEvent.success.is_(success))
    if before_id:
        anchor = s.get(AuditEvent, before_id)
        if anchor is not None and anchor.tenant_id == tenant_id:
            q = q.where(
                (AuditEvent.created_at < anchor.created_at)
                | ((AuditEvent.created_at == anchor.created_at) & (AuditEvent.id < anchor.id))
            )
    q = q.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    return list(s.scalars(q.offset(offset).limit(limit)))
