"""The spine of a tool call: check, route, record, dispatch to n8n, record the outcome.

Database work happens in two short transactions (prepare, finish) around one webhook POST,
so a run is durable before anything is sent and a crash leaves it to be reconciled. Both run
as jobs of the database writer (hub.db.writer), so they must be safe to run again; the rows
every call writes go in as Core statements, which cost a fraction of an ORM flush.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, update
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.audit.service import append
from hub.connections import service as connections
from hub.connections.usage import UsageMeter
from hub.core.callers import Caller
from hub.core.calls import (
    NOTHING_SENT,
    WORKFLOW_ERROR_KINDS,
    CallOutcome,
    CallRequest,
    args_fingerprint,
)
from hub.core.errors import HubError
from hub.db.base import new_id, table_of, utcnow
from hub.permissions.gate import ToolRef, gate
from hub.registry import hot
from hub.registry import service as registry
from hub.runs import grants, steps
from hub.runs.facts import FACTS, held_by_key
from hub.runs.handouts import Handout
from hub.runs.models import Run
from hub.runs.pausing import keep_paused, pause
from hub.runs.scrub import Scrubber, redact_fields
from hub.runs.service import outcome_of
from hub.runs.validation import validate_args
from vault import Vault

log = logging.getLogger("hub.runs")


@dataclass
class Dispatch:
    """A prepared call: everything needed to POST the webhook and finish afterwards."""

    run_id: str
    tenant_id: str
    path: str
    body: dict[str, Any]
    connection_id: str
    connection_status: str
    provider: str
    tool: str
    caller: Caller
    started: float
    # A vendor's auth refusal keeps the call as paused instead of failing it (a pausable
    # tool, no secret arguments, not itself a retry): nothing was done, or only steps that
    # are recorded and will be replayed (hub.runs.steps), so it can run later.
    pausable: bool = False


@dataclass
class _Finished:
    """A run's outcome fields as finish() writes them."""

    id: str
    status: str
    result: dict[str, Any] | None = None
    error_kind: str | None = None
    error_message: str | None = None
    vendor_status: int | None = None
    retry_after_s: int | None = None


# The call path's statements, built once: constructing and keying a statement costs more
# than SQLite takes to run it.
_runs = table_of(Run)
_RUN_INSERT = _runs.insert()
# SET takes the columns named in each call's parameters.
_RUN_UPDATE = _runs.update().where(_runs.c.id == bindparam("run_id_"))


def choose_provider(
    s: Session, tenant_id: str, tool: hot.ToolView, pinned: str | None = None
) -> tuple[Any, Any]:
    """The tenant's provider for a tool: its configured default, else the registry's.

    `pinned` (the hub's own test calls) picks that integration's connection whatever its
    health. Returns (binding, connection row with id, integration_slug, status, last_error).
    """
    bindings = tool.bindings
    conns = connections.routing_rows(s, tenant_id)
    if pinned is not None:
        for b in bindings:
            if b.integration_slug == pinned and pinned in conns:
                return b, conns[pinned]
        raise HubError(
            "not_connected", f"{tool.name} cannot run through {pinned}: it is not connected."
        )
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
    preferred = None
    if len(usable) > 1:
        settings = accounts.tenant_settings(s, tenant_id)
        preferred = (settings.get("default_providers") or {}).get(tool.name)
    pick = (
        next((b for b in usable if b.integration_slug == preferred), None)
        or next((b for b in usable if b.is_default), None)
        or usable[0]
    )
    return pick, conns[pick.integration_slug]


def check_permission(
    s: Session,
    caller: Caller,
    tool: hot.ToolView,
    req: CallRequest,
    held_run: str | None,
) -> CallOutcome | None:
    """The permission gate (hub.permissions): None runs the call; an outcome answers it.

    soft_limit without reasoning raises reasoning_required; requires_authorization (the
    tool's level, or raised by a policy rule) queues the call and returns the
    authorization_required outcome, so nothing is sent.
    """

    def provider() -> str | None:
        return choose_provider(s, caller.tenant_id, tool)[0].integration_slug

    ref = ToolRef(
        name=tool.name,
        permission=tool.permission,
        secret_fields=list((tool.definition or {}).get("secret_fields", [])),
        provider=provider,
    )
    return gate(s, caller, ref, req, FACTS, held_run=held_run)


def refuse_internal(caller: Caller, tool: hot.ToolView) -> None:
    """Only the hub itself (a system caller: Save & Test) runs an internal tool."""
    if (tool.definition or {}).get("internal") and caller.kind != "system":
        registry.refuse_internal(tool.name)


def precheck(engine: Any, caller: Caller, req: CallRequest) -> hot.ToolView | None:
    """Refuse bad arguments before queueing any database work (when the tool is known here).

    Runs on the event loop against the in-memory registry snapshot and returns the view it
    checked against; prepare() validates again only if its fresh snapshot holds another one.
    """
    views = hot.peek(engine)
    tool = views.get(req.tool) if views is not None else None
    if tool is not None:
        refuse_internal(caller, tool)
        secret_fields = (tool.definition or {}).get("secret_fields", [])
        validate_args(tool.name, tool.input_schema, req.args, secret_fields)
    return tool


def resolve_held(
    s: Session, held: Row[Any, Any, Any, Any] | None, fingerprint: str, retry_ok: bool
) -> CallOutcome | str | None:
    """Refuse or replay a call whose idempotency key is held; else the run it retries, if any.

    Shared by the registry and remote call paths so both refuse the same way; the
    caller decides `retry_ok` because what counts as safe to resend differs by path.
    """
    if held is None:
        return None
    if held.args_hash != fingerprint:
        raise HubError(
            "idempotency_mismatch",
            "This idempotency key was already used for a call with other arguments; "
            "use a new key for new arguments.",
        )
    if held.status in ("pending", "sent"):
        raise HubError(
            "in_progress",
            f"Run {held.id} with this idempotency key is still in progress; "
            "poll it or retry later. It will not be run twice.",
            details={"run_id": held.id},
        )
    earlier = s.get(Run, held.id)
    if not retry_ok and earlier is not None:
        return outcome_of(earlier, replayed=True)
    return str(held.id)


def prepare(
    s: Session,
    caller: Caller,
    req: CallRequest,
    edge_url: str,
    checked: hot.ToolView | None = None,
) -> Dispatch | CallOutcome:
    """Validate, gate, dedupe and route a call; write the run and mint its grant.

    `checked` is the tool view precheck() already validated the arguments against.
    """
    tool = hot.tools(s).get(req.tool) or registry.raise_unknown_tool(s, req.tool)
    refuse_internal(caller, tool)
    definition = tool.definition or {}
    secret_fields = definition.get("secret_fields", [])
    if tool is not checked:
        validate_args(tool.name, tool.input_schema, req.args, secret_fields)
    held = held_by_key(s, caller.tenant_id, req.idempotency_key)
    gated = check_permission(s, caller, tool, req, held.id if held is not None else None)
    if gated is not None:
        return gated
    fingerprint = args_fingerprint(tool.name, req.args)

    vendor_dedupes = bool(definition.get("idempotent_vendor"))
    retry_ok = held is not None and (
        (held.status == "failed" and held.error_kind in NOTHING_SENT)
        or (held.status == "outcome_unknown" and vendor_dedupes)
        # A multi-step call cut off by an outage resumes from its last recorded step: the
        # finished ones are replayed, and the vendor dedupes the one that failed by its
        # step-scoped key, so the same key never makes the vendor act twice.
        or (
            held.status == "failed"
            and held.error_kind == "vendor_unavailable"
            and vendor_dedupes
            and bool(definition.get("steps"))
        )
    )
    resolved = resolve_held(s, held, fingerprint, retry_ok)
    if isinstance(resolved, CallOutcome):
        return resolved
    retry_of = resolved

    try:
        binding, conn = choose_provider(s, caller.tenant_id, tool, req.pinned_provider)
    except HubError as exc:
        broken = exc.details.get("integration")
        if not (definition.get("pausable") and broken and retry_of is None and not secret_fields):
            raise
        row = connections.routing_rows(s, caller.tenant_id)[broken]
        return pause(
            s,
            caller,
            req,
            fingerprint=fingerprint,
            integration=broken,
            connection_id=row.id,
            reason=exc.message,
        )
    if binding.live_version is None:
        raise HubError(
            "not_connected",
            f"The workflow {binding.workflow} for {tool.name} is not deployed to n8n; "
            "an operator must run `hub workflows deploy`.",
        )
    now = utcnow()
    routed = {
        "provider": binding.integration_slug,
        "connection_id": conn.id,
        "workflow_version": binding.live_version,
        "status": "sent",
        "sent_at": now,
        "error_kind": None,
        "error_message": None,
    }
    db = s.connection()
    if retry_of is None:
        run_id = new_id("run")
        db.execute(
            _RUN_INSERT,
            {
                "id": run_id,
                "tenant_id": caller.tenant_id,
                "caller": caller.actor,
                "tool": tool.name,
                "args": redact_fields(req.args, secret_fields),
                "args_hash": fingerprint,
                "idempotency_key": req.idempotency_key,
                "reasoning": req.reasoning,
                "created_at": now,
                **routed,
            },
        )
    else:
        run_id = retry_of
        db.execute(_RUN_UPDATE, {"run_id_": run_id, **routed})
    grant = grants.mint(s, caller.tenant_id, run_id, conn.id)
    declared = definition.get("steps")
    stepped: dict[str, Any] = {}
    if declared:
        # A multi-step workflow records each finished step with its step grant; a retry or
        # a resumed run sends back what was recorded, and the workflow replays it.
        stepped = {
            "steps": _recorded_for(s, run_id, conn.id) if retry_of is not None else {},
            "step_grant": steps.mint(s, caller.tenant_id, run_id, conn.id),
            "steps_url": steps.steps_url(edge_url),
        }
    append(
        s,
        caller.tenant_id,
        caller.actor,
        "tool.called",
        target=tool.name,
        run_id=run_id,
        integration=binding.integration_slug,
        details={"reasoning": req.reasoning} if req.reasoning else {},
    )
    integration, tool_name = binding.workflow.split("/", 1)
    return Dispatch(
        run_id=run_id,
        tenant_id=caller.tenant_id,
        path=f"hub/{integration}/{tool_name}/v{binding.live_version}",
        body={
            "run_id": run_id,
            "tenant_id": caller.tenant_id,
            "tool": tool.name,
            "args": req.args,
            "grant": grant,
            # Vendors that dedupe (Stripe, Square) get a key on every call: the caller's, or
            # the run id, so a reconciliation resend cannot charge twice.
            "idempotency_key": req.idempotency_key or run_id,
            "edge_url": edge_url,
            **stepped,
        },
        connection_id=conn.id,
        connection_status=conn.status,
        provider=binding.integration_slug,
        tool=tool.name,
        caller=caller,
        started=time.perf_counter(),
        pausable=bool(definition.get("pausable"))
        and not secret_fields
        and retry_of is None
        and caller.kind != "system",  # the hub's own calls (Save & Test) answer at once
    )


def finish(
    s: Session,
    d: Dispatch,
    answer: dict[str, Any] | None,
    failure: tuple[str, str] | None,
    *,
    vault: Vault,
    usage: UsageMeter,
    edge_secrets: Handout | None = None,
) -> CallOutcome:
    """Record the workflow's answer (or the failure to get one) on the run and connection.

    `edge_secrets` are the values this process handed out for the run's grant; when the grant
    was redeemed elsewhere (another replica) they are read from the vault for scrubbing.
    Connection usage is counted in `usage` and written with this transaction once it is due.
    """
    now = utcnow()
    db = s.connection()
    # Close the grant: a redemption after the run is over is refused. Nothing to close means
    # it was redeemed, so the workflow held the secret and the answer must be scrubbed of it.
    # Handed out here means redeemed (and so closed) already: no statement needed.
    redeemed = edge_secrets is not None or grants.close(s, d.body["grant"], now) == 0
    if "step_grant" in d.body:  # the dispatch is over: its steps are all recorded now
        steps.close(s, d.body["step_grant"], now)
    handout = edge_secrets or Handout([], [])
    if redeemed and edge_secrets is None:
        handout = _handout_of(s, vault, d)
    scrubber = Scrubber(handout.secrets, handout.identities)

    run = _Finished(d.run_id, "failed")
    health: tuple[str, str | None, str | None] | None = None
    if failure is not None:
        kind, message = failure
        run.status = "outcome_unknown" if kind == "outcome_unknown" else "failed"
        run.error_kind, run.error_message = kind, scrubber.scrub(message)
    elif answer is None:  # pragma: no cover - a hop either answers or raises
        raise AssertionError("finish() needs an answer or a failure")
    elif answer.get("ok") is True:
        run.status = "succeeded"
        data = answer.get("data")
        run.result = scrubber.scrub(data if isinstance(data, dict) else {"value": data})
        if d.connection_status == "warning":
            health = ("connected", None, None)
    else:
        raw = answer.get("error")
        err: dict[str, Any] = raw if isinstance(raw, dict) else {}
        named = err.get("kind")
        kind = (
            named
            if isinstance(named, str) and named in WORKFLOW_ERROR_KINDS
            else "vendor_unavailable"
        )
        run.error_kind = kind
        run.error_message = scrubber.scrub(str(err.get("message") or "vendor error")[:2000])
        run.vendor_status = _int(err.get("vendor_status"))
        run.retry_after_s = _int(err.get("retry_after_s"))
        if kind == "auth":
            health = ("error", run.error_message, kind)
            if d.pausable:  # refused before acting (or after recorded steps): kept
                run.status = "paused"
        elif kind in ("rate_limited", "vendor_unavailable"):
            health = ("warning", run.error_message, kind)
            if kind == "vendor_unavailable" and "step_grant" in d.body:
                run.error_message = _resumable(s, d, run.error_message)
    duration_ms = round((time.perf_counter() - d.started) * 1000, 2)
    db.execute(
        _RUN_UPDATE,
        {
            "run_id_": d.run_id,
            "status": run.status,
            "result": run.result,
            "error_kind": run.error_kind,
            "error_message": run.error_message,
            "vendor_status": run.vendor_status,
            "retry_after_s": run.retry_after_s,
            "finished_at": now,
            "duration_ms": duration_ms,
        },
    )
    if health is not None:
        connections.note_outcome_health(
            s, d.connection_id, health[0], error=health[1], kind=health[2]
        )
    usage.note(d.connection_id, now, by_agent=d.caller.kind == "agent")
    if usage.due():
        usage.flush(s)
    append(
        s,
        d.tenant_id,
        d.caller.actor,
        f"tool.{run.status}",
        target=d.tool,
        run_id=d.run_id,
        integration=d.provider,
        success=run.status == "succeeded",
        error_message=run.error_message,
        details={"ms": duration_ms, "error_kind": run.error_kind}
        if run.error_kind
        else {"ms": duration_ms},
    )
    if run.status == "paused":
        done = steps.done_steps(s, d.run_id) if "step_grant" in d.body else []
        return keep_paused(s, d.tenant_id, d.run_id, run.error_message or "", now, done=done)
    return outcome_of(run)


def _resumable(s: Session, d: Dispatch, message: str) -> str:
    """An outage cut a multi-step call short after recorded steps: say how to resume it.

    A call made without an idempotency key gets its run id as one (the key its vendor
    steps were sent with), so the caller can resume it too."""
    done = steps.done_steps(s, d.run_id)
    if not done:
        return message
    key = str(d.body["idempotency_key"])
    s.execute(
        update(Run)
        .where(Run.id == d.run_id, Run.idempotency_key.is_(None))
        .values(idempotency_key=key)
        .execution_options(synchronize_session=False)
    )
    return (
        f"{message} The steps {', '.join(done)} are done and recorded: call again with the "
        f"same arguments and idempotency_key '{key}' to resume from there (nothing done is "
        "repeated)."
    )


def _recorded_for(s: Session, run_id: str, connection_id: str) -> dict[str, Any]:
    """The steps a retried run recorded, to replay; refused when they were made through
    another connection (another vendor account holds those objects)."""
    done = steps.recorded(s, run_id)
    earlier = s.get(Run, run_id)
    if done and earlier is not None and earlier.connection_id not in (None, connection_id):
        raise HubError(
            "conflict",
            f"This call's finished steps ({', '.join(done)}) were made through another "
            "connection, so they cannot be replayed through this one. Check that vendor "
            "account, then call again with a new idempotency key.",
        )
    return done


def _handout_of(s: Session, vault: Vault, d: Dispatch) -> Handout:
    """What the run's grant handed out, read again (it was redeemed on another replica)."""
    try:
        conn = connections.get_connection(s, d.tenant_id, d.connection_id)
    except HubError:  # removed meanwhile: nothing left to scrub against
        return Handout([], [])
    values = vault.read(s, d.tenant_id, conn.credential_id) if conn.credential_id else {}
    plain = [v for v in (conn.config or {}).values() if isinstance(v, str)]
    return Handout([v for v in values.values() if isinstance(v, str)], plain)


def _int(v: Any) -> int | None:
    try:
        return int(v) if v is not None and v != "" else None
    except (TypeError, ValueError):
        return None
