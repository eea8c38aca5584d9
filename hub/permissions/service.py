"""The permission gate and the authorization queue (no HTTP here).

gate() runs inside the call spine's prepare() transaction: it refuses (reasoning_required),
queues (returns the authorization_required outcome; nothing is sent), answers an earlier
decision, or lets the call through (None). Decisions are made only through decide(), which
REST and the console call for admins; no tool result or agent call can approve anything.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.accounts.models import ApiToken, Tenant
from hub.accounts.service import Caller
from hub.audit.service import record
from hub.core.errors import HubError, not_found
from hub.db.base import utcnow
from hub.permissions.models import Authorization, PermissionOverride
from hub.permissions.policy import Evaluation, Policy, PolicyContext, current_policy
from hub.runs.models import Run
from hub.runs.scrub import args_fingerprint

log = logging.getLogger("hub.permissions")

# Failure kinds after which nothing reached the vendor (mirrors hub.runs.service.NOTHING_SENT).
_NOTHING_SENT = ("n8n_unavailable", "rate_limited")


@dataclass
class ToolRef:
    """What the gate needs to know about a tool (a registry row or a hub-native action)."""

    name: str
    permission: str
    secret_fields: list[str]
    # The provider the call would route to; only asked when a human is involved.
    provider: Callable[[], str | None]
    # Whether the call continues into the run spine (its idempotency step answers retries);
    # hub-native actions do not, so a run's key never lets one past the gate.
    spine: bool = True


@dataclass
class GateRequest:
    """The parts of a call the gate reads."""

    tool: str
    args: dict[str, Any]
    reasoning: str | None = None
    idempotency_key: str | None = None
    authorization_id: str | None = None


def effective_key(auth: Authorization) -> str:
    """The idempotency key the approved call runs under (the agent's, else one per queue id)."""
    return auth.idempotency_key or f"authorization:{auth.id}"


# ---------------------------------------------------------------- the gate


def gate(
    s: Session,
    caller: Caller,
    ref: ToolRef,
    req: GateRequest,
    *,
    policy: Policy | None = None,
) -> Any | None:
    """Apply the permission level to one call: None lets it run; an outcome answers it."""
    policy = policy or current_policy()
    fingerprint = args_fingerprint(ref.name, req.args)
    now = utcnow()
    if req.authorization_id:
        _consume(s, caller, ref.name, fingerprint, req.authorization_id, now)
        return None
    if req.idempotency_key:
        held = s.scalar(
            select(Run.id).where(
                Run.tenant_id == caller.tenant_id, Run.idempotency_key == req.idempotency_key
            )
        )
        if held is not None:
            if not ref.spine:
                raise HubError(
                    "idempotency_mismatch",
                    f"This idempotency key was used for a different call ({held}); use a new "
                    "key for new arguments.",
                )
            # A run holds this key: it was let through when it was made, and the spine's
            # idempotency rules (replay, mismatch, in progress) answer the retry.
            return None
        earlier = s.scalar(
            select(Authorization).where(
                Authorization.tenant_id == caller.tenant_id,
                Authorization.idempotency_key == req.idempotency_key,
            )
        )
        if earlier is not None:
            return _answer_earlier(s, caller, earlier, ref.name, fingerprint, now)

    ev = policy.evaluate(ref.name, ref.permission, req.args, _context(s, caller.tenant_id, policy))
    if ev.level == "unrestricted":
        return None
    needs_reason = ev.base == "soft_limit" or ev.level == "soft_limit"
    if needs_reason and not (req.reasoning and req.reasoning.strip()):
        raise HubError(
            "reasoning_required",
            f"{ref.name} is a soft-limit action: call it again with `reasoning` explaining "
            "why (it is recorded in the audit log and shown to any human who reviews it).",
        )
    if ev.level == "soft_limit":
        return None

    provider = ref.provider()
    override = _covering_override(s, policy, caller.tenant_id, ref.name, provider, req.args, ev)
    if override is not None:
        lowered = policy.lowered(ev.base)
        if lowered == "soft_limit" and not (req.reasoning and req.reasoning.strip()):
            raise HubError(
                "reasoning_required",
                f"{ref.name} is allowed for this call by an earlier Allow Always, which still "
                "needs `reasoning`: call it again with one (it is audited).",
            )
        record(
            s,
            caller.tenant_id,
            caller.actor,
            "permission.override_applied",
            target=override.id,
            integration=provider,
            details={"tool": ref.name, "rules": list(ev.rule_ids), "level": lowered},
        )
        return None
    if ref.secret_fields:
        raise HubError(
            "forbidden",
            f"{ref.name} needs a human's approval but carries secret arguments, which the "
            "hub never stores; ask an admin to run it.",
        )
    return _queue(s, caller, ref.name, provider, req, fingerprint, ev, policy, now)


def _context(s: Session, tenant_id: str, policy: Policy) -> PolicyContext:
    """Lazy hooks into the hub's state for the policy rules (nothing is read until asked)."""

    def charged_recently(payment_id: str, window: timedelta) -> bool:
        from hub.permissions.policy import SettledRefund

        tools: set[str] = set()
        field = "payment_id"
        for rule in policy.spec.rules:
            if isinstance(rule, SettledRefund):
                tools.update(rule.charge_tools)
                field = rule.charge_result_field
        since = utcnow() - window
        q = select(Run.result).where(
            Run.tenant_id == tenant_id,
            Run.tool.in_(sorted(tools)),
            Run.status == "succeeded",
            Run.finished_at >= since,
        )
        return any(isinstance(r, dict) and r.get(field) == payment_id for r in s.scalars(q))

    def history(tool: str, args: dict[str, Any]) -> tuple[str, int] | None:
        from hub.connections.service import connection_for

        conn = connection_for(s, tenant_id, str(args.get("integration", "")))
        if conn is None:
            return None
        uses = s.scalar(select(func.count()).select_from(Run).where(Run.connection_id == conn.id))
        return (conn.integration_slug, int(uses or 0)) if uses else None

    def settings() -> dict[str, Any]:
        tenant = s.get(Tenant, tenant_id)
        return dict(tenant.settings or {}) if tenant else {}

    return PolicyContext(
        settings_loader=settings,
        charged_recently=charged_recently,
        history=history,
    )


def _covering_override(
    s: Session,
    policy: Policy,
    tenant_id: str,
    tool: str,
    provider: str | None,
    args: dict[str, Any],
    ev: Evaluation,
) -> PermissionOverride | None:
    q = select(PermissionOverride).where(
        PermissionOverride.tenant_id == tenant_id,
        PermissionOverride.tool == tool,
        PermissionOverride.revoked_at.is_(None),
    )
    for row in s.scalars(q.order_by(PermissionOverride.created_at)):
        if policy.covers(row.terms, tool, provider, args, ev):
            return row
    return None


def _queue(
    s: Session,
    caller: Caller,
    tool: str,
    provider: str | None,
    req: GateRequest,
    fingerprint: str,
    ev: Evaluation,
    policy: Policy,
    now: datetime,
) -> Any:
    """Reuse this agent's identical pending request, or queue a new one."""
    if caller.token_id is None:
        raise HubError(
            "forbidden",
            f"{tool} needs a human's approval, which is queued for an agent token; this "
            "caller has none.",
        )
    same = s.scalar(
        select(Authorization)
        .where(
            Authorization.tenant_id == caller.tenant_id,
            Authorization.token_id == caller.token_id,
            Authorization.args_hash == fingerprint,
            Authorization.status == "pending",
            Authorization.expires_at > now,
        )
        .order_by(Authorization.created_at.desc())
        .limit(1)
    )
    if same is not None and (same.idempotency_key in (None, req.idempotency_key)):
        return required_outcome(same)
    auth = Authorization(
        tenant_id=caller.tenant_id,
        token_id=caller.token_id,
        caller=caller.actor,
        tool=tool,
        provider=provider,
        args=dict(req.args),
        args_hash=fingerprint,
        reasoning=req.reasoning,
        idempotency_key=req.idempotency_key,
        reason=ev.reason,
        rules=list(ev.rule_ids),
        status="pending",
        created_at=now,
        updated_at=now,
        expires_at=now + policy.ttl,
    )
    s.add(auth)
    s.flush()
    record(
        s,
        caller.tenant_id,
        caller.actor,
        "authorization.queued",
        target=auth.id,
        integration=provider,
        details={"tool": tool, "rules": list(ev.rule_ids)},
    )
    return required_outcome(auth)


def _consume(
    s: Session, caller: Caller, tool: str, fingerprint: str, auth_id: str, now: datetime
) -> Authorization:
    """Use an approval for exactly its call, once (the caller's transaction makes the run)."""
    auth = s.get(Authorization, auth_id)
    if (
        auth is None
        or auth.tenant_id != caller.tenant_id
        or auth.token_id != caller.token_id
        or auth.tool != tool
        or auth.args_hash != fingerprint
    ):
        raise HubError("forbidden", "That authorization does not cover this call.")
    if auth.status != "authorized" or auth.expires_at <= now:
        raise HubError(
            "forbidden", f"That authorization is {_status(auth, now)}, not an unused approval."
        )
    done = s.execute(
        update(Authorization)
        .where(Authorization.id == auth.id, Authorization.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:
        raise HubError(
            "in_progress",
            "This approved call is already running or has run; it will not run twice. "
            "Poll check_authorization for its result.",
            details={"queue_id": auth.id},
        )
    auth.used_at = now
    return auth


def _answer_earlier(
    s: Session, caller: Caller, auth: Authorization, tool: str, fingerprint: str, now: datetime
) -> Any | None:
    """A retry with the idempotency key of a queued call: its state, or its approval."""
    if auth.tool != tool or auth.args_hash != fingerprint or auth.token_id != caller.token_id:
        raise HubError(
            "idempotency_mismatch",
            "This idempotency key was used for a different call (queued as "
            f"{auth.id}); use a new key for new arguments.",
            details={"queue_id": auth.id},
        )
    status = _status(auth, now)
    if status == "pending":
        return required_outcome(auth)
    if status == "denied":
        raise denied_error(auth)
    if status == "expired":
        raise expired_error(auth)
    # Authorized but unused (its execution was refused before anything was sent): the
    # agent's retry of exactly this call uses the approval.
    if auth.used_at is None:
        _consume(s, caller, tool, fingerprint, auth.id, now)
        return None
    # Used: a run holds the key (answered before), or a hub-native action stored its outcome.
    if auth.outcome is not None:
        from hub.runs.service import CallOutcome

        o = dict(auth.outcome)
        return CallOutcome(
            o.get("status", "failed"),
            o.get("run_id"),
            data=o.get("data"),
            error=o.get("error"),
            replayed=True,
            extra={"queue_id": auth.id},
        )
    raise HubError(
        "in_progress",
        f"The approved call {auth.id} is running; it will not run twice. Retry later "
        "or poll check_authorization.",
        details={"queue_id": auth.id},
    )


# ---------------------------------------------------------------- outcomes


def _status(auth: Authorization, now: datetime | None = None) -> str:
    """The status, with a pending request past its expiry answering `expired`."""
    now = now or utcnow()
    live = auth.status in ("pending", "authorized") and auth.used_at is None
    return "expired" if live and auth.expires_at <= now else auth.status


def required_outcome(auth: Authorization) -> Any:
    """The authorization_required answer (seed 001: status, queue_id, reason, message)."""
    from hub.runs.service import CallOutcome

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


# ---------------------------------------------------------------- reading


def _visible(caller: Caller) -> Any:
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


def encode_cursor(offset: int) -> str:
    """An opaque page cursor."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset in a cursor from encode_cursor (refuses anything else)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind == "o" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise HubError(
        "invalid_request",
        "cursor is not one this hub issued; pass next_cursor from the previous page.",
        details={"field": "cursor"},
    )


def run_of(s: Session, auth: Authorization) -> Run | None:
    """The run an approval produced, if any (found by its key when not yet linked)."""
    if auth.run_id:
        return s.get(Run, auth.run_id)
    if auth.status != "authorized":
        return None
    return s.scalar(
        select(Run).where(
            Run.tenant_id == auth.tenant_id, Run.idempotency_key == effective_key(auth)
        )
    )


def present(s: Session, auth: Authorization, *, with_args: bool = True) -> dict[str, Any]:
    """An authorization as REST and MCP show it, with its outcome once there is one."""
    from hub.runs.service import outcome_of

    status = _status(auth)
    run = run_of(s, auth)
    outcome: dict[str, Any] | None = None
    if run is not None:
        outcome = outcome_of(run).to_dict()
    elif auth.outcome is not None:
        outcome = dict(auth.outcome)
    out: dict[str, Any] = {
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
        "run_id": run.id if run is not None else None,
        "outcome": outcome,
        "message": _status_message(auth, status, outcome),
    }
    if with_args:
        out["args"] = auth.args
    return out


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
        ev = _evaluation_of(auth)
        terms = policy.override_terms(auth.tool, auth.provider, auth.args, ev)
    won = s.execute(
        update(Authorization)
        .where(Authorization.id == auth.id, Authorization.status == "pending")
        .values(status=decision, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if not won.rowcount:
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
        row = PermissionOverride(
            tenant_id=auth.tenant_id,
            tool=auth.tool,
            provider=auth.provider,
            terms=terms,
            authorization_id=auth.id,
            created_by=caller.actor,
        )
        s.add(row)
        s.flush()
        auth.override_id = row.id
        record(
            s,
            caller.tenant_id,
            caller.actor,
            "permission.override_created",
            target=row.id,
            integration=auth.provider,
            details={"tool": auth.tool, "terms": terms, "authorization_id": auth.id},
        )
    return auth


def _evaluation_of(auth: Authorization) -> Evaluation:
    """The raises recorded when the call was queued (what an override must answer)."""
    from hub.permissions.policy import Raise

    return Evaluation(
        base="requires_authorization",
        raises=tuple(Raise(r, "") for r in (auth.rules or [])),
    )


def agent_caller(s: Session, auth: Authorization) -> Caller:
    """The agent an approved call runs as; refused when its token was revoked or expired."""
    tok = s.get(ApiToken, auth.token_id)
    now = utcnow()
    if tok is None or tok.revoked_at is not None or (tok.expires_at and tok.expires_at <= now):
        raise HubError(
            "forbidden",
            "The agent token that queued this call was revoked or expired, so it is not "
            "run on its behalf; nothing was sent.",
        )
    return Caller(tenant_id=tok.tenant_id, kind=tok.kind, token_id=tok.id, name=tok.name)


def record_execution(
    s: Session, auth_id: str, outcome: dict[str, Any], actor: str
) -> Authorization:
    """Link an approval to what running it produced, and audit it."""
    auth = s.get(Authorization, auth_id)
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


# ---------------------------------------------------------------- expiry and overrides


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


def list_overrides(s: Session, tenant_id: str, include_revoked: bool = False) -> list[Any]:
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


def pending_for_tenant(s: Session, tenant_id: str) -> int:
    """How many requests wait for a human (for badges)."""
    now = utcnow()
    q = select(func.count()).where(
        Authorization.tenant_id == tenant_id,
        Authorization.status == "pending",
        Authorization.expires_at > now,
    )
    return int(s.scalar(q) or 0)


__all__ = [
    "GateRequest",
    "ToolRef",
    "agent_caller",
    "decide",
    "denied_error",
    "effective_key",
    "expire_stale",
    "expired_error",
    "gate",
    "get_authorization",
    "list_authorizations",
    "list_overrides",
    "pending_for_tenant",
    "present",
    "record_execution",
    "required_outcome",
    "revoke_override",
    "run_of",
]
