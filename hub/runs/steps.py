"""Step-scoped idempotency for multi-step workflows (DESIGN 9b, seed 000: "paused workflow
runs resume from the last successful step").

A tool that declares `steps` in the catalog (send_invoice: customer, invoice, items,
finalize, send) gets three more fields in its webhook body: `steps` (the results recorded so
far, name -> result; empty on a first call), `step_grant` and `steps_url`. After each
finished vendor step the workflow POSTs `{grant, run_id, step, result}` to `steps_url`
(/edge/steps); a resumed or retried run gets the recorded results back and the workflow
skips those steps (an IF node per step), so the vendor is not called again for them.

The step grant is in the spirit of the credential grant (hub.runs.grants): random, stored
only as a hash, minted per dispatch, bound to one run and one connection, valid only while
that dispatch is in flight (finish() closes it; it expires after STEP_GRANT_TTL), and each
step of a run is recorded once. It grants nothing but writing that run's step records, and
every refusal is audited. A recorded result is scrubbed of the connection's secrets like a
run's result (hub.runs.scrub) and capped at STEP_RESULT_MAX bytes of JSON.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.connections import service as connections
from hub.core.errors import HubError
from hub.db.base import new_id, rowcount, table_of, utcnow
from hub.registry import hot
from hub.runs.handouts import Handout
from hub.runs.models import Run, RunStep, StepGrant
from hub.runs.scrub import Scrubber
from vault import Vault

STEPS_PATH = "/edge/steps"
# Longer than any webhook call may take (HUB_RUN_TIMEOUT_S, a minute by default); finish()
# closes the grant as soon as the call is over, so this only bounds a lost dispatch.
STEP_GRANT_TTL = timedelta(minutes=5)
# A step records what later steps and the final answer need (ids, a number, a URL), not
# the vendor's whole object.
STEP_RESULT_MAX = 8192

_grants = table_of(StepGrant)
_INSERT = _grants.insert()
_CLOSE = (
    _grants.update()
    .where(_grants.c.token_hash == bindparam("hash_"))
    .values(expires_at=bindparam("now"))
)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def steps_url(edge_url: str) -> str:
    """Where workflows record steps, next to where they redeem grants."""
    return edge_url.rsplit("/edge/", 1)[0] + STEPS_PATH


def mint(s: Session, tenant_id: str, run_id: str, connection_id: str) -> str:
    """A step grant for one dispatch of a run; returns the raw grant (never stored)."""
    raw = "sg_" + secrets.token_urlsafe(32)
    s.connection().execute(
        _INSERT,
        {
            "id": new_id("sg"),
            "token_hash": _hash(raw),
            "tenant_id": tenant_id,
            "run_id": run_id,
            "connection_id": connection_id,
            "expires_at": utcnow() + STEP_GRANT_TTL,
        },
    )
    return raw


def close(s: Session, raw: str, now: datetime) -> None:
    """End a step grant now: its dispatch is over, a later recording is refused."""
    s.connection().execute(_CLOSE, {"hash_": _hash(raw), "now": now})


def purge_expired(s: Session, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete step grants that ended more than `older_than` ago (the steps stay)."""
    res = s.execute(delete(StepGrant).where(StepGrant.expires_at < utcnow() - older_than))
    return rowcount(res)


def recorded(s: Session, run_id: str) -> dict[str, Any]:
    """The run's recorded steps, name -> result, in the order they were recorded."""
    rows = s.scalars(
        select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.created_at, RunStep.id)
    )
    return {r.step: r.result for r in rows}


def step_list(s: Session, run_id: str) -> list[dict[str, Any]]:
    """The run's recorded steps for admins: [{step, result, recorded_at}], oldest first."""
    rows = s.scalars(
        select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.created_at, RunStep.id)
    )
    return [{"step": r.step, "result": r.result, "recorded_at": r.created_at} for r in rows]


def done_steps(s: Session, run_id: str) -> list[str]:
    """Names of the run's recorded steps, in the order they were recorded."""
    return list(recorded(s, run_id))


def declared_steps(s: Session, tool: str) -> list[str]:
    """The steps a tool's catalog entry declares ([] for a single-step tool)."""
    view = hot.tools(s).get(tool)
    return list(((view.definition or {}) if view is not None else {}).get("steps") or [])


@dataclass(frozen=True)
class StepRecord:
    """A workflow's report of one finished step, as /edge/steps receives it."""

    grant: str
    run_id: str
    step: str
    result: dict[str, Any]


def _audit_refusal(s: Session, g: StepGrant, reason: str, ip: str | None, step: str) -> None:
    record(
        s,
        g.tenant_id,
        "edge",
        "step.refused",
        target=step,
        run_id=g.run_id,
        success=False,
        error_message=reason,
        ip_address=ip,
    )


def record_step(
    s: Session, vault: Vault, body: StepRecord, ip: str | None, handout: Handout | None
) -> dict[str, Any] | HubError:
    """Check the grant and store the step, scrubbed; a refusal is returned (so its audit
    row commits with this transaction)."""
    g = s.scalar(select(StepGrant).where(StepGrant.token_hash == _hash(body.grant)))
    if g is None:
        return HubError("unauthenticated", "Unknown step grant.")
    reason = "expired" if g.expires_at <= utcnow() else None
    if reason is None and body.run_id != g.run_id:
        reason = "run_mismatch"
    if reason is not None:
        _audit_refusal(s, g, reason, ip, body.step)
        return HubError(
            "forbidden",
            f"Step grant refused: {reason.replace('_', ' ')}. A step grant records the steps "
            "of one run, only while that run's webhook call is in flight.",
        )
    run = s.get(Run, g.run_id)
    declared = declared_steps(s, run.tool) if run is not None else []
    if body.step not in declared:
        _audit_refusal(s, g, "unknown_step", ip, body.step)
        names = ", ".join(declared) or "none"
        return HubError(
            "invalid_request",
            f"step: this run's tool declares no step of that name; its steps are: {names}.",
            details={"field": "step", "allowed": declared},
        )
    size = len(json.dumps(body.result, separators=(",", ":"), ensure_ascii=False).encode())
    if size > STEP_RESULT_MAX:
        _audit_refusal(s, g, "too_large", ip, body.step)
        return HubError(
            "too_large",
            f"A step's result is at most {STEP_RESULT_MAX} bytes of JSON (this one is {size}): "
            "record only the ids and fields later steps and the final answer need.",
            status=413,
        )
    taken = s.scalar(
        select(RunStep.id).where(RunStep.run_id == g.run_id, RunStep.step == body.step)
    )
    if taken is not None:
        _audit_refusal(s, g, "already_recorded", ip, body.step)
        return HubError(
            "conflict",
            "That step of this run is recorded already: each step is recorded once, and a "
            "resumed run replays it instead of calling the vendor again.",
        )
    known = handout or _handout_of(s, vault, g)
    # The grant itself is scrubbed too: a workflow that echoed its body would hand it back.
    result = Scrubber([*known.secrets, body.grant], known.identities).scrub(body.result)
    s.add(RunStep(run_id=g.run_id, step=body.step, result=result))
    record(
        s, g.tenant_id, "edge", "step.recorded", target=body.step, run_id=g.run_id, ip_address=ip
    )
    s.flush()
    return {"step": body.step, "result": result}


def _handout_of(s: Session, vault: Vault, g: StepGrant) -> Handout:
    """The connection's secret values, read again (its grant was redeemed elsewhere)."""
    try:
        conn = connections.get_connection(s, g.tenant_id, g.connection_id)
    except HubError:  # removed meanwhile: nothing left to scrub against
        return Handout([], [])
    values = vault.read(s, g.tenant_id, conn.credential_id) if conn.credential_id else {}
    plain = [v for v in (conn.config or {}).values() if isinstance(v, str)]
    return Handout([v for v in values.values() if isinstance(v, str)], plain)
