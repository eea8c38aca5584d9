"""The permission gate: what happens to one call before anything is sent.

gate() runs inside the call spine's first transaction: it refuses (reasoning_required),
queues the call for a human (returns the authorization_required outcome; nothing is sent),
answers a retry of a queued call with its state, consumes an approval, or lets the call
through (None). What the policy rules need from the runs table (a recent charge, a
connection's history) comes from the caller as RunFacts, so this domain reads no runs.
No tool result or agent call can approve anything: decisions go through queue.decide().
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.audit.service import record
from hub.connections.service import connection_for
from hub.core.callers import Caller
from hub.core.calls import CallOutcome, CallRequest, args_fingerprint
from hub.core.errors import HubError
from hub.db.base import rowcount, utcnow
from hub.permissions.models import Authorization
from hub.permissions.overrides import covering_override
from hub.permissions.policy import (
    Evaluation,
    Policy,
    PolicyContext,
    SettledRefund,
    current_policy,
)
from hub.permissions.queue import denied_error, expired_error, required_outcome, status_of


@dataclass
class ToolRef:
    """What the gate needs to know about a tool (a registry tool or a hub-native action)."""

    name: str
    permission: str
    secret_fields: list[str]
    # The provider the call would route to; only asked when a human is involved.
    provider: Callable[[], str | None]
    # Whether the call continues into the run spine (its idempotency step answers retries);
    # hub-native actions do not, so a run's key never lets one past the gate.
    spine: bool = True


class RunFacts(Protocol):
    """What the policy rules may ask of the tenant's runs (the runs domain answers)."""

    def charged_recently(
        self, s: Session, tenant_id: str, tools: list[str], field: str, value: str, since: datetime
    ) -> bool:
        """Whether one of `tools` succeeded for this tenant since `since` with result[field]."""
        ...

    def uses_of_connection(self, s: Session, connection_id: str) -> int:
        """How many runs went through a connection."""
        ...


def effective_key(auth: Authorization) -> str:
    """The idempotency key the approved call runs under (the agent's, else one per queue id)."""
    return auth.idempotency_key or f"authorization:{auth.id}"


def gate(
    s: Session,
    caller: Caller,
    ref: ToolRef,
    req: CallRequest,
    facts: RunFacts,
    *,
    held_run: str | None = None,
    policy: Policy | None = None,
) -> CallOutcome | None:
    """Apply the permission level to one call: None lets it run; an outcome answers it.

    held_run: the run already holding the call's idempotency key, if any (the caller reads
    it: the spine needs it next anyway).
    """
    policy = policy or current_policy()
    fingerprint = args_fingerprint(ref.name, req.args)
    now = utcnow()
    if req.authorization_id:
        _consume(s, caller, ref.name, fingerprint, req.authorization_id, now)
        return None
    if req.idempotency_key:
        if held_run is not None:
            if not ref.spine:
                raise HubError(
                    "idempotency_mismatch",
                    "This idempotency key was already used for another call; use a new key "
                    "for new arguments.",
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

    ctx = _context(s, caller.tenant_id, policy, facts)
    ev = policy.evaluate(ref.name, ref.permission, req.args, ctx)
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
    override = covering_override(s, policy, caller.tenant_id, ref.name, provider, req.args, ev)
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


def _context(s: Session, tenant_id: str, policy: Policy, facts: RunFacts) -> PolicyContext:
    """Lazy hooks into the hub's state for the policy rules (nothing is read until asked)."""

    def charged_recently(payment_id: str, window: timedelta) -> bool:
        tools: set[str] = set()
        field = "payment_id"
        for rule in policy.spec.rules:
            if isinstance(rule, SettledRefund):
                tools.update(rule.charge_tools)
                field = rule.charge_result_field
        return facts.charged_recently(
            s, tenant_id, sorted(tools), field, payment_id, utcnow() - window
        )

    def history(tool: str, args: dict[str, Any]) -> tuple[str, int] | None:
        conn = connection_for(s, tenant_id, str(args.get("integration", "")))
        if conn is None:
            return None
        uses = facts.uses_of_connection(s, conn.id)
        return (conn.integration_slug, uses) if uses else None

    return PolicyContext(
        settings_loader=lambda: accounts.tenant_settings(s, tenant_id),
        charged_recently=charged_recently,
        history=history,
    )


def _queue(
    s: Session,
    caller: Caller,
    tool: str,
    provider: str | None,
    req: CallRequest,
    fingerprint: str,
    ev: Evaluation,
    policy: Policy,
    now: datetime,
) -> CallOutcome:
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
            "forbidden", f"That authorization is {status_of(auth, now)}, not an unused approval."
        )
    done = s.execute(
        update(Authorization)
        .where(Authorization.id == auth.id, Authorization.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not rowcount(done):
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
) -> CallOutcome | None:
    """A retry with the idempotency key of a queued call: its state, or its approval."""
    if auth.tool != tool or auth.args_hash != fingerprint or auth.token_id != caller.token_id:
        # Another agent's queue id is not named: it is not this caller's to know.
        raise HubError(
            "idempotency_mismatch",
            "This idempotency key was already used for another queued call; use a new key "
            "for new arguments.",
            details={"queue_id": auth.id} if auth.token_id == caller.token_id else {},
        )
    status = status_of(auth, now)
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
        o = CallOutcome.from_dict(dict(auth.outcome), replayed=True)
        o.extra["queue_id"] = auth.id
        return o
    raise HubError(
        "in_progress",
        f"The approved call {auth.id} is running; it will not run twice. Retry later "
        "or poll check_authorization.",
        details={"queue_id": auth.id},
    )
