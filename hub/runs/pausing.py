"""Keeping a call instead of losing it (seed 000): a call to a `pausable` tool whose provider's
connection is in error is written as a `paused` run, nothing sent, with a queue id (the run
id) the agent can poll. It keeps its full arguments (pausable tools have no secret fields)
and an idempotency key of its own, so resuming it reuses this very run: exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.audit.service import append
from hub.core.callers import Caller
from hub.core.calls import CallOutcome, CallRequest
from hub.db.base import new_id, rowcount, utcnow
from hub.runs.models import Run, RunStep

# How long a paused call waits for its connection to be fixed (tenant setting
# policy.paused_run_ttl_hours overrides it).
DEFAULT_PAUSE_TTL = timedelta(hours=24)


def pause_ttl(s: Session, tenant_id: str) -> timedelta:
    """The tenant's time limit for paused calls."""
    policy = accounts.tenant_settings(s, tenant_id).get("policy") or {}
    hours = policy.get("paused_run_ttl_hours")
    return timedelta(hours=float(hours)) if isinstance(hours, int | float) else DEFAULT_PAUSE_TTL


def pause(
    s: Session,
    caller: Caller,
    req: CallRequest,
    *,
    fingerprint: str,
    integration: str,
    connection_id: str,
    reason: str,
) -> CallOutcome:
    """Write the paused run and answer the agent with its queue id."""
    now = utcnow()
    run_id = new_id("run")
    until = now + pause_ttl(s, caller.tenant_id)
    s.add(
        Run(
            id=run_id,
            tenant_id=caller.tenant_id,
            caller=caller.actor,
            tool=req.tool,
            provider=integration,
            connection_id=connection_id,
            args=req.args,
            args_hash=fingerprint,
            idempotency_key=req.idempotency_key or f"paused:{run_id}",
            reasoning=req.reasoning,
            status="paused",
            error_kind="paused",
            error_message=reason,
            created_at=now,
            paused_until=until,
        )
    )
    append(
        s,
        caller.tenant_id,
        caller.actor,
        "tool.paused",
        target=req.tool,
        run_id=run_id,
        integration=integration,
    )
    return _paused_outcome(run_id, reason, until)


def keep_paused(
    s: Session,
    tenant_id: str,
    run_id: str,
    reason: str,
    now: datetime,
    *,
    done: list[str] | None = None,
) -> CallOutcome:
    """A sent call the vendor refused for its credentials (nothing done, or only the steps
    `done`, which are recorded): the run becomes paused, with an idempotency key of its own
    so that resuming reuses it, and is audited."""
    until = now + pause_ttl(s, tenant_id)
    s.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(
            status="paused",
            error_kind="paused",
            error_message=reason,
            finished_at=None,
            paused_until=until,
            idempotency_key=func.coalesce(Run.idempotency_key, "paused:" + run_id),
        )
        .execution_options(synchronize_session=False)
    )
    if done:
        said = (
            f"The vendor refused the connection's credentials ({reason}) after the steps "
            f"{', '.join(done)}, which are recorded: resuming replays them and sends only "
            "the rest."
        )
    else:
        said = f"The vendor refused the connection's credentials ({reason}); nothing was done."
    return _paused_outcome(run_id, said, until)


def _paused_outcome(run_id: str, reason: str, until: datetime) -> CallOutcome:
    message = (
        f"{reason} The call was kept, not sent: it runs once the connection is fixed and "
        f"passes a test, or expires at {until.isoformat()}. Poll it with its queue_id."
    )
    return CallOutcome(
        "paused",
        run_id,
        error={"kind": "paused", "message": message},
        extra={"queue_id": run_id, "expires_at": until.isoformat()},
    )


def claim(s: Session, run_id: str) -> Run | None:
    """Take a paused run for resuming (one resumer wins); its retry then reuses the run."""
    res = s.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "paused")
        .values(status="failed", error_kind="paused")
    )
    return s.get(Run, run_id) if rowcount(res) == 1 else None


EXPIRED_NOTHING_SENT = (
    "The call waited for its connection to be fixed and expired; nothing was sent. "
    "Call again once the connection works."
)


def expire_paused(s: Session) -> int:
    """Paused runs past their time limit end `expired`, with the reason (naming the steps a
    multi-step run had done at the vendor: those are not undone)."""
    now = utcnow()
    due = s.execute(select(Run.id).where(Run.status == "paused", Run.paused_until < now)).scalars()
    ids = list(due)
    if not ids:
        return 0
    done: dict[str, list[str]] = {}
    for run_id, step in s.execute(
        select(RunStep.run_id, RunStep.step)
        .where(RunStep.run_id.in_(ids))
        .order_by(RunStep.created_at, RunStep.id)
    ):
        done.setdefault(run_id, []).append(step)
    expired = 0
    for run_id in ids:
        message = EXPIRED_NOTHING_SENT
        if run_id in done:
            message = (
                "The call waited for its connection to be fixed and expired after the steps "
                f"{', '.join(done[run_id])} had been done at the vendor (they are not "
                "undone); the rest was never sent. Check the vendor before calling again."
            )
        res = s.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == "paused")
            .values(
                status="expired",
                error_kind="paused_expired",
                error_message=message,
                finished_at=now,
            )
        )
        expired += rowcount(res)
    return expired


def paused_ids(s: Session, tenant_id: str, connection_id: str) -> list[str]:
    """The connection's paused runs, oldest first (the order they resume in)."""
    q = (
        select(Run.id)
        .where(
            Run.tenant_id == tenant_id,
            Run.connection_id == connection_id,
            Run.status == "paused",
            Run.paused_until > utcnow(),
        )
        .order_by(Run.created_at, Run.id)
    )
    return list(s.scalars(q))


def args_of(run: Run) -> dict[str, Any]:
    """The arguments a paused run was called with."""
    return dict(run.args or {})
