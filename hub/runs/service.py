"""The spine of a tool call: check, route, record, dispatch to n8n, record the outcome.

Database work happens in two short transactions (prepare, finish) around one webhook POST,
so a run is durable before anything is sent and a crash leaves it to be reconciled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.accounts.models import Tenant
from hub.accounts.service import Caller
from hub.audit.service import record
from hub.connections import service as connections
from hub.connections.models import Connection
from hub.core.errors import HubError
from hub.db.base import utcnow
from hub.registry import hot
from hub.registry import service as registry
from hub.runs import grants
from hub.runs.models import Run
from hub.runs.scrub import args_fingerprint, redact_fields, scrub_values
from hub.runs.validation import validate_args

log = logging.getLogger("hub.runs")

# Failure kinds after which nothing reached the vendor: a retry with the same key may run again.
NOTHING_SENT = ("n8n_unavailable", "rate_limited")
WORKFLOW_ERROR_KINDS = (
    "auth",
    "rate_limited",
    "vendor_unavailable",
    "invalid_request",
    "not_found",
    "conflict",
)


@dataclass
class CallRequest:
    """A tool call as an agent makes it."""

    tool: str
    args: dict[str, Any]
    reasoning: str | None = None
    idempotency_key: str | None = None
    # Set only by the authorization queue when it runs an approved call (see hub.permissions).
    authorization_id: str | None = None


@dataclass
class CallOutcome:
    """What the caller gets back."""

    status: str
    run_id: str | None = None
    data: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: {status, run_id, data | error, replayed}."""
        out: dict[str, Any] = {"status": self.status, "run_id": self.run_id}
        if self.data is not None:
            out["data"] = self.data
        if self.error is not None:
            out["error"] = self.error
        if self.replayed:
            out["replayed"] = True
        out.update(self.extra)
        return out


@dataclass
class Dispatch:
    """A prepared call: everything needed to POST the webhook and finish afterwards."""

    run_id: str
    tenant_id: str
    path: str
    body: dict[str, Any]
    connection_id: str
    provider: str
    tool: str
    caller: Caller
    started: float


def outcome_of(run: Run, replayed: bool = False) -> CallOutcome:
    """The outcome recorded on a run."""
    if run.status == "succeeded":
        return CallOutcome("succeeded", run.id, data=run.result or {}, replayed=replayed)
    err: dict[str, Any] = {"kind": run.error_kind or run.status, "message": run.error_message or ""}
    if run.vendor_status:
        err["vendor_status"] = run.vendor_status
    if run.retry_after_s is not None:
        err["retry_after_s"] = run.retry_after_s
    return CallOutcome(run.status, run.id, error=err, replayed=replayed)


def choose_provider(s: Session, tenant_id: str, tool: hot.ToolView) -> tuple[Any, Connection]:
    """The tenant's provider for a tool: its configured default, else the registry's."""
    bindings = tool.bindings
    conns = {c.integration_slug: c for c in connections.list_connections(s, tenant_id)}
    usable = [
        b
        for b in bindings
        if b.integration_slug in conns
        and conns[b.integration_slug].status in connections.USABLE_STATUSES
    ]
    if not usable:
        names = ", ".join(b.integration_slug for b in bindings) or "none"
        broken = [conns[b.integration_slug] for b in bindings if b.integration_slug in conns]
        if broken:
            c = broken[0]
            raise HubError(
                "not_connected",
                f"{tool.name} needs {c.integration_slug}, whose connection is in "
                f"'{c.status}' ({c.last_error or 'no detail'}). An admin must update "
                "its credentials.",
                details={"integration": c.integration_slug},
            )
        raise HubError(
            "not_connected",
            f"{tool.name} has no connected provider for this tenant. Connect one of: {names}.",
            details={"providers": [b.integration_slug for b in bindings]},
        )
    tenant = s.get(Tenant, tenant_id)
    preferred = ((tenant.settings or {}).get("default_providers", {}) if tenant else {}).get(
        tool.name
    )
    pick = (
        next((b for b in usable if b.integration_slug == preferred), None)
        or next((b for b in usable if b.is_default), None)
        or usable[0]
    )
    return pick, conns[pick.integration_slug]


def check_permission(s: Session, caller: Caller, tool: Any, req: CallRequest) -> CallOutcome | None:
    """The permission gate (hub.permissions): None runs the call; an outcome answers it.

    soft_limit without reasoning raises reasoning_required; requires_authorization (the
    tool's level, or raised by a policy rule) queues the call and returns the
    authorization_required outcome, so nothing is sent.
    """
    from hub.permissions.service import GateRequest, ToolRef, gate

    def provider() -> str | None:
        return choose_provider(s, caller.tenant_id, tool)[0].integration_slug

    ref = ToolRef(
        name=tool.name,
        permission=tool.permission,
        secret_fields=list((tool.definition or {}).get("secret_fields", [])),
        provider=provider,
    )
    return gate(
        s,
        caller,
        ref,
        GateRequest(
            tool=tool.name,
            args=req.args,
            reasoning=req.reasoning,
            idempotency_key=req.idempotency_key,
            authorization_id=req.authorization_id,
        ),
    )


def prepare(s: Session, caller: Caller, req: CallRequest, edge_url: str) -> Dispatch | CallOutcome:
    """Validate, gate, dedupe and route a call; write the run and mint its grant."""
    tool = hot.tools(s).get(req.tool) or registry.raise_unknown_tool(s, req.tool)
    definition = tool.definition or {}
    secret_fields = definition.get("secret_fields", [])
    validate_args(tool.name, tool.input_schema, req.args, secret_fields)
    gated = check_permission(s, caller, tool, req)
    if gated is not None:
        return gated
    fingerprint = args_fingerprint(tool.name, req.args)

    run: Run | None = None
    if req.idempotency_key:
        run = s.scalar(
            select(Run).where(
                Run.tenant_id == caller.tenant_id, Run.idempotency_key == req.idempotency_key
            )
        )
        if run is not None:
            if run.args_hash != fingerprint:
                raise HubError(
                    "idempotency_mismatch",
                    f"Idempotency key '{req.idempotency_key}' was used for a different "
                    f"call (run {run.id}); use a new key for new arguments.",
                )
            if run.status in ("pending", "sent"):
                raise HubError(
                    "in_progress",
                    f"Run {run.id} with this idempotency key is still in progress; "
                    "poll it or retry later. It will not be run twice.",
                    details={"run_id": run.id},
                )
            retry_ok = (run.status == "failed" and run.error_kind in NOTHING_SENT) or (
                run.status == "outcome_unknown" and definition.get("idempotent_vendor")
            )
            if not retry_ok:
                return outcome_of(run, replayed=True)

    binding, conn = choose_provider(s, caller.tenant_id, tool)
    if binding.live_version is None:
        raise HubError(
            "not_connected",
            f"The workflow {binding.workflow} for {tool.name} is not deployed to n8n; "
            "an operator must run `hub workflows deploy`.",
        )
    now = utcnow()
    if run is None:
        run = Run(
            tenant_id=caller.tenant_id,
            caller=caller.actor,
            tool=tool.name,
            args=redact_fields(req.args, secret_fields),
            args_hash=fingerprint,
            idempotency_key=req.idempotency_key,
            reasoning=req.reasoning,
        )
        s.add(run)
    run.provider = binding.integration_slug
    run.connection_id = conn.id
    run.workflow_version = binding.live_version
    run.status, run.sent_at = "sent", now
    run.error_kind = run.error_message = None
    s.flush()
    grant = grants.mint(s, caller.tenant_id, run.id, conn.id)
    record(
        s,
        caller.tenant_id,
        caller.actor,
        "tool.called",
        target=tool.name,
        run_id=run.id,
        integration=binding.integration_slug,
        details={"reasoning": req.reasoning} if req.reasoning else {},
    )
    integration, tool_name = binding.workflow.split("/", 1)
    return Dispatch(
        run_id=run.id,
        tenant_id=caller.tenant_id,
        path=f"hub/{integration}/{tool_name}/v{binding.live_version}",
        body={
            "run_id": run.id,
            "tenant_id": caller.tenant_id,
            "tool": tool.name,
            "args": req.args,
            "grant": grant,
            # Vendors that dedupe (Stripe, Square) get a key on every call: the caller's, or
            # the run id, so a reconciliation resend cannot charge twice.
            "idempotency_key": req.idempotency_key or run.id,
            "edge_url": edge_url,
        },
        connection_id=conn.id,
        provider=binding.integration_slug,
        tool=tool.name,
        caller=caller,
        started=time.perf_counter(),
    )


def finish(
    s: Session,
    vault: Any,
    d: Dispatch,
    answer: dict[str, Any] | None,
    failure: tuple[str, str] | None,
) -> CallOutcome:
    """Record the workflow's answer (or the failure to get one) on the run and connection."""
    run = s.get(Run, d.run_id)
    conn = s.get(Connection, d.connection_id)
    # Read the secrets first: the query would otherwise flush the run half-updated.
    secrets_ = (
        list(vault.read(s, d.tenant_id, conn.credential_id).values())
        if (conn and conn.credential_id)
        else []
    )

    now = utcnow()
    run.finished_at = now
    run.duration_ms = round((time.perf_counter() - d.started) * 1000, 2)
    if failure is not None:
        kind, message = failure
        run.status = "outcome_unknown" if kind == "outcome_unknown" else "failed"
        run.error_kind, run.error_message = kind, scrub_values(message, secrets_)
    elif answer.get("ok") is True:
        run.status = "succeeded"
        data = answer.get("data")
        run.result = scrub_values(data if isinstance(data, dict) else {"value": data}, secrets_)
        if conn is not None and conn.status == "warning":
            connections.set_health(s, conn, "connected")
    else:
        err = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        kind = err.get("kind") if err.get("kind") in WORKFLOW_ERROR_KINDS else "vendor_unavailable"
        run.status = "failed"
        run.error_kind = kind
        run.error_message = scrub_values(str(err.get("message") or "vendor error")[:2000], secrets_)
        run.vendor_status = _int(err.get("vendor_status"))
        run.retry_after_s = _int(err.get("retry_after_s"))
        if conn is not None:
            if kind == "auth":
                connections.set_health(s, conn, "error", error=run.error_message, kind=kind)
            elif kind in ("rate_limited", "vendor_unavailable"):
                connections.set_health(s, conn, "warning", error=run.error_message, kind=kind)
    if conn is not None:
        conn.last_used_at = now
        if d.caller.kind == "agent":
            conn.times_used_by_agent += 1
            conn.last_agent_use_at = now
    record(
        s,
        d.tenant_id,
        d.caller.actor,
        f"tool.{run.status}",
        target=d.tool,
        run_id=run.id,
        integration=d.provider,
        success=run.status == "succeeded",
        error_message=run.error_message,
        details={"ms": run.duration_ms, "error_kind": run.error_kind}
        if run.error_kind
        else {"ms": run.duration_ms},
    )
    return outcome_of(run)


def _int(v: Any) -> int | None:
    try:
        return int(v) if v is not None and v != "" else None
    except (TypeError, ValueError):
        return None


def stale_after(settings: Any) -> timedelta:
    """How long a run may be in flight before it counts as interrupted (webhook timeout + 5 s)."""
    return timedelta(seconds=settings.run_timeout_s + 5)


def reconcile_interrupted(s: Session, older_than: timedelta = timedelta(seconds=0)) -> int:
    """Runs left 'sent' or 'pending' by a stopped hub become outcome_unknown (never resent)."""
    cutoff = utcnow() - older_than
    res = s.execute(
        update(Run)
        .where(Run.status.in_(("pending", "sent")), Run.created_at <= cutoff)
        .values(
            status="outcome_unknown",
            error_kind="outcome_unknown",
            finished_at=utcnow(),
            error_message="The hub stopped while this call was in flight; whether the "
            "vendor acted is unknown. It was not resent. Retry with the same idempotency "
            "key only for vendors that deduplicate, or check the vendor first.",
        )
        .execution_options(synchronize_session=False)
    )
    return res.rowcount or 0


def get_run(s: Session, tenant_id: str, run_id: str) -> Run:
    """One run of this tenant."""
    run = s.get(Run, run_id)
    if run is None or run.tenant_id != tenant_id:
        from hub.core.errors import not_found

        raise not_found("run")
    return run


def list_runs(
    s: Session,
    tenant_id: str,
    *,
    status: str | None = None,
    tool: str | None = None,
    limit: int = 50,
) -> list[Run]:
    """Recent runs of this tenant, newest first."""
    q = select(Run).where(Run.tenant_id == tenant_id)
    if status:
        q = q.where(Run.status == status)
    if tool:
        q = q.where(Run.tool == tool)
    return list(s.scalars(q.order_by(Run.created_at.desc()).limit(limit)))
