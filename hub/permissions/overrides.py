"""Allow Always overrides: the narrow terms a human approved, and withdrawing them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.core.callers import Caller
from hub.core.errors import not_found
from hub.db.base import utcnow
from hub.permissions.models import PermissionOverride
from hub.permissions.policy import Evaluation, Policy


def covering_override(
    s: Session,
    policy: Policy,
    tenant_id: str,
    tool: str,
    provider: str | None,
    args: dict[str, Any],
    ev: Evaluation,
) -> PermissionOverride | None:
    """The oldest live override whose terms cover this call, if any."""
    q = select(PermissionOverride).where(
        PermissionOverride.tenant_id == tenant_id,
        PermissionOverride.tool == tool,
        PermissionOverride.revoked_at.is_(None),
    )
    for row in s.scalars(q.order_by(PermissionOverride.created_at)):
        if policy.covers(row.terms, tool, provider, args, ev):
            return row
    return None


def create_override(
    s: Session,
    caller: Caller,
    *,
    tenant_id: str,
    tool: str,
    provider: str | None,
    terms: dict[str, Any],
    authorization_id: str,
) -> PermissionOverride:
    """Record an Allow Always with its terms, audited."""
    row = PermissionOverride(
        tenant_id=tenant_id,
        tool=tool,
        provider=provider,
        terms=terms,
        authorization_id=authorization_id,
        created_by=caller.actor,
    )
    s.add(row)
    s.flush()
    record(
        s,
        caller.tenant_id,
        caller.actor,
        "permission.override_created",
        target=row.id,
        integration=provider,
        details={"tool": tool, "terms": terms, "authorization_id": authorization_id},
    )
    return row


def list_overrides(
    s: Session, tenant_id: str, include_revoked: bool = False
) -> list[PermissionOverride]:
    """A tenant's Allow Always overrides, newest first."""
    q = select(PermissionOverride).where(PermissionOverride.tenant_id == tenant_id)
    if not include_revoked:
        q = q.where(PermissionOverride.revoked_at.is_(None))
    return list(s.scalars(q.order_by(PermissionOverride.created_at.desc())))


def revoke_override(s: Session, caller: Caller, override_id: str) -> PermissionOverride:
    """Withdraw an Allow Always: matching calls need a human again."""
    row = s.get(PermissionOverride, override_id)
    if row is None or row.tenant_id != caller.tenant_id:
        raise not_found("override")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(
            s,
            caller.tenant_id,
            caller.actor,
            "permission.override_revoked",
            target=row.id,
            integration=row.provider,
            details={"tool": row.tool},
        )
    return row
