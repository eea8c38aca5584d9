"""The authorization queue: reading queued calls, a human's decision, expiry.

A queued call is bound to its tenant, agent token, tool and arguments hash (hub.permissions
.gate writes it). Decisions are made only through decide(), which REST and the console reach
through hub.approvals for owners and admins. What running an approved call produced is
linked with record_execution(); presenting it with its run's outcome is hub.approvals' job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.core.callers import Caller
from hub.core.calls import CallOutcome
from hub.core.cursor import decode_cursor, encode_cursor
from hub.core.errors import HubError, not_found
from hub.db.base import rowcount, utcnow
from hub.permissions.models import AUTHORIZATION_STATUSES, Authorization
from hub.permissions.overrides import create_override
from hub.permissions.policy import Evaluation, Policy, Raise, current_policy

# ---------------------------------------------------------------- states and answers


def status_of(auth: Authorization, now: datetime | None = None) -> str:
    """The status, with a pending request past its expiry answering `expired`."""
    now = now or utcnow()
    live = auth.status in ("pending", "authorized") and auth.used_at is None
    return "expired" if live and auth.expires_at <= now else auth.status


def required_outcome(auth: Authorization) -> CallOutcome:
    """The authorization_required answer (status, queue_id, reason, message)."""
    message = (
        f"Queued for a human's authorization as {auth.id}; nothing was sent. Tell the user "
        "it awaits approval at /authorizations. Poll check_authorization with this queue_id, "
        "or retry with the same idempotency_key, to get the result once decided."
    )
    return CallOutcome(
        "authorization_required",
        None,
        extra={
            "queue_id": auth.id,
            "reason": auth.reason,
            "message": message,
            "expires_at": auth.expires_at.isoformat(),
        },
    )


def denied_error(auth: Authorization) -> HubError:
    """The refusal an agent gets for a denied call, carrying the human's note."""
    note = (auth.notes or "").strip()
    return HubError(
        "denied",
        f"A human denied this call ({auth.id})"
        + (f" with the note: {note}" if note else " without a note")
        + ". Do not retry it unchanged.",
        details={"queue_id": auth.id, "notes": note or None},
    )


def expired_error(auth: Authorization) -> HubError:
    """The refusal for a call nobody decided in time."""
    return HubError(
        "authorization_expired",
        f"Nobody decided on {auth.id} before it expired; nothing was sent. Call again "
        "with a new idempotency key to queue it again.",
        status=410,
        details={"queue_id": auth.id},
    )


def present(
    auth: Authorization, outcome: dict[str, Any] | None, run_id: str | None
) -> dict[str, Any]:
    """An authorization as REST and MCP show it; `outcome` is its run's, when it has one."""
    status = status_of(auth)
    if outcome is None and auth.outcome is not None:
        outcome = dict(auth.outcome)
    return {
        "id": auth.id,
        "queue_id": auth.id,
        "status": status,
        "tool": auth.tool,
        "provider": auth.provider,
        "agent_token_id": auth.token_id,
        "reason": auth.reason,
        "rules": list(auth.rules or []),
        "reasoning": auth.reasoning,
        "idempotency_key": auth.idempotency_key,
        "created_at": auth.created_at.isoformat(),
        "expires_at": auth.expires_at.isoformat(),
        "decided_at": auth.decided_at.isoformat() if auth.decided_at else None,
        "decided_by": auth.decided_by,
        "notes": auth.notes,
        "upgrade_permission": auth.upgrade_permission,
        "override_id": auth.override_id,
        "run_id": run_id,
        "outcome": outcome,
        "message": _status_message(auth, status, outcome),
        "args": auth.args,
    }


def _status_message(auth: Authorization, status: str, outcome: dict[str, Any] | None) -> str:
    if status == "pending":
        return "Waiting for a human's decision; nothing has been sent."
    if status == "expired":
        return "Nobody decided in time; nothing was sent. Call again to queue it anew."
    if status == "denied":
        note = (auth.notes or "").strip()
        return "Denied by a human" + (f": {note}" if note else " (no note).")
    if outcome is None:
        return "Authorized; the call is running or about to run."
    return f"Authorized and run: {outcome.get('status')}."


# ---------------------------------------------------------------- reading


def _visible(caller: Caller) -> ColumnElement[bool]:
    """Agents see their own requests; admin and ops tokens see the tenant's."""
    if caller.kind == "agent":
        return Authorization.token_id == (caller.token_id or "")
    return Authorization.tenant_id == caller.tenant_id


def get_authorization(s: Session, caller: Caller, auth_id: str) -> Authorization:
    """One authorization this caller may see (the same 404 for any other)."""
    auth = s.get(Authorization, auth_id)
    if auth is None or auth.tenant_id != caller.tenant_id:
        raise not_found("authorization")
    if caller.kind == "agent" and auth.token_id != caller.token_id:
        raise not_found("authorization")
    expire_one(s, auth)
    return auth


def list_authorizations(
    s: Session,
    caller: Caller,
    *,
    status: str | None = "pending",
    tool: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Authorization], str | None]:
    """A page of authorizations, newest first (status None or 'all': every status)."""
    expire_stale(s, caller.tenant_id)
    q = select(Authorization).where(Authorization.tenant_id == caller.tenant_id, _visible(caller))
    if status and status != "all":
        q = q.where(Authorization.status == status)
    if tool:
        q = q.where(Authorization.tool == tool)
    offset = decode_cursor(cursor)
    q = q.order_by(Authorization.created_at.desc(), Authorization.id.desc())
    rows = list(s.scalars(q.offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    return rows[:limit], encode_cursor(offset + limit) if more else None


def pending_for_tenant(s: Session, tenant_id: str) -> int:
    """How many requests wait for a human (for badges)."""
    now = utcnow()
    q = select(func.count()).where(
        Authorization.tenant_id == tenant_id,
        Authorization.status == "pending",
        Authorization.expires_at > now,
    )
    return int(s.scalar(q) or 0)


def load(s: Session, auth_id: str) -> Authorization | None:
    """An authorization by id, whoever asks (for the approvals flow, after its own checks)."""
    return s.get(Authorization, auth_id)


# ---------------------------------------------------------------- deciding


def decide(
    s: Session,
    caller: Caller,
    auth_id: str,
    decision: str,
    notes: str | None = None,
    upgrade_permission: bool = False,
    *,
    policy: Policy | None = None,
) -> Authorization:
    """Record a human's decision (only pending requests; the first decision wins)."""
    auth = s.get(Authorization, auth_id)
    if auth is None or auth.tenant_id != caller.tenant_id:
        raise not_found("authorization")
    if decision not in ("authorized", "denied"):
        raise HubError(
            "invalid_request",
            "decision must be 'authorized' (Allow Once; with upgrade_permission, Allow "
            "Always) or 'denied'.",
            details={"field": "decision"},
        )
    now = utcnow()
    if expire_one(s, auth, now):
        s.commit()  # keep the expiry even though the decision is refused
        raise HubError("conflict", f"{auth.id} expired before a decision; nothing was sent.")
    if auth.status != "pending":
        raise HubError("conflict", f"{auth.id} was already decided: {auth.status}.")
    policy = policy or current_policy()
    terms: dict[str, Any] | None = None
    upgrade = bool(upgrade_permission) and decision == "authorized"
    if upgrade:
        ev = Evaluation(
            base="requires_authorization",
            raises=tuple(Raise(r, "") for r in (auth.rules or [])),
        )
        terms = policy.override_terms(auth.tool, auth.provider, auth.args, ev)
    won = s.execute(
        update(Authorization)
        .where(Authorization.id == auth.id, Authorization.status == "pending")
        .values(status=decision, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if not rowcount(won):
        raise HubError("conflict", f"{auth.id} was decided by someone else just now.")
    auth.status, auth.decided_at = decision, now
    auth.decided_by = caller.actor
    auth.notes = (notes or "").strip() or None
    auth.upgrade_permission = upgrade
    record(
        s,
        caller.tenant_id,
        caller.actor,
        f"authorization.{decision}",
        target=auth.id,
        integration=auth.provider,
        details={
            "tool": auth.tool,
            "agent_token_id": auth.token_id,
            "upgrade_permission": upgrade,
            "notes": auth.notes,
        },
    )
    if terms is not None:
        row = create_override(
            s,
            caller,
            tenant_id=auth.tenant_id,
            tool=auth.tool,
            provider=auth.provider,
            terms=terms,
            authorization_id=auth.id,
        )
        auth.override_id = row.id
    return auth


def record_execution(
    s: Session, auth_id: str, outcome: dict[str, Any], actor: str
) -> Authorization:
    """Link an approval to what running it produced, and audit it."""
    auth = s.get(Authorization, auth_id)
    if auth is None:
        raise not_found("authorization")
    run_id = outcome.get("run_id")
    if run_id:
        auth.run_id = run_id
    else:
        auth.outcome = outcome
    record(
        s,
        auth.tenant_id,
        actor,
        "authorization.executed",
        target=auth.id,
        run_id=run_id,
        integration=auth.provider,
        success=outcome.get("status") == "succeeded",
        error_message=(outcome.get("error") or {}).get("message"),
        details={"tool": auth.tool, "status": outcome.get("status")},
    )
    return auth


# ---------------------------------------------------------------- expiry


def expire_one(s: Session, auth: Authorization, now: datetime | None = None) -> bool:
    """Mark one request expired if it is past its time; returns whether it changed."""
    now = now or utcnow()
    if auth.status == "pending" and auth.expires_at <= now:
        auth.status = "expired"
        record(
            s,
            auth.tenant_id,
            "system:expiry",
            "authorization.expired",
            target=auth.id,
            integration=auth.provider,
            details={"tool": auth.tool},
        )
        return True
    return False


def expire_stale(s: Session, tenant_id: str | None = None, now: datetime | None = None) -> int:
    """Expire every pending request past its time (all tenants when tenant_id is None)."""
    now = now or utcnow()
    q = select(Authorization).where(
        Authorization.status == "pending", Authorization.expires_at <= now
    )
    if tenant_id is not None:
        q = q.where(Authorization.tenant_id == tenant_id)
    n = 0
    for auth in s.scalars(q):
        n += expire_one(s, auth, now)
    return n


__all__ = [
    "AUTHORIZATION_STATUSES",
    "Authorization",
    "decide",
    "denied_error",
    "expire_one",
    "expire_stale",
    "expired_error",
    "get_authorization",
    "list_authorizations",
    "load",
    "pending_for_tenant",
    "present",
    "record_execution",
    "required_outcome",
    "status_of",
]
