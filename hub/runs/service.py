"""Run records: reading them (REST, hub_query, the console), their outcomes, reconciliation.

Run is exposed here for the callers that type what they get back; only hub.runs imports
the models module.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from hub.core.calls import CallOutcome
from hub.core.errors import not_found
from hub.db.base import rowcount, table_of, utcnow
from hub.runs.models import RUN_STATUSES, Run


class _Outcome(Protocol):
    """What outcome_of reads: a Run, or the fields finish() is about to write."""

    id: str
    status: str
    result: dict[str, Any] | None
    error_kind: str | None
    error_message: str | None
    vendor_status: int | None
    retry_after_s: int | None


def outcome_of(run: _Outcome, replayed: bool = False) -> CallOutcome:
    """The outcome recorded on a run."""
    if run.status == "succeeded":
        return CallOutcome("succeeded", run.id, data=run.result or {}, replayed=replayed)
    err: dict[str, Any] = {"kind": run.error_kind or run.status, "message": run.error_message or ""}
    if run.vendor_status:
        err["vendor_status"] = run.vendor_status
    if run.retry_after_s is not None:
        err["retry_after_s"] = run.retry_after_s
    return CallOutcome(run.status, run.id, error=err, replayed=replayed)


def stale_after(run_timeout_s: float) -> timedelta:
    """How long a run may be in flight before it counts as interrupted (webhook timeout + 5 s)."""
    return timedelta(seconds=run_timeout_s + 5)


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
    return rowcount(res)


def find_run(s: Session, tenant_id: str, run_id: str) -> Run | None:
    """One run of this tenant, or None."""
    run = s.get(Run, run_id)
    return run if run is not None and run.tenant_id == tenant_id else None


def get_run(s: Session, tenant_id: str, run_id: str) -> Run:
    """One run of this tenant (the same 404 for any other)."""
    run = find_run(s, tenant_id, run_id)
    if run is None:
        raise not_found("run")
    return run


def run_for_key(s: Session, tenant_id: str, key: str) -> Run | None:
    """The run holding an idempotency key in this tenant, if any."""
    return s.scalar(select(Run).where(Run.tenant_id == tenant_id, Run.idempotency_key == key))


def list_runs(
    s: Session,
    tenant_id: str,
    *,
    status: str | None = None,
    tool: str | None = None,
    integration: str | None = None,
    caller: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Run]:
    """Runs of this tenant, newest first, filtered."""
    q = select(Run).where(Run.tenant_id == tenant_id)
    if status:
        q = q.where(Run.status == status)
    if tool:
        q = q.where(Run.tool == tool)
    if integration:
        q = q.where(Run.provider == integration)
    if caller:
        q = q.where(Run.caller == caller)
    if since:
        q = q.where(Run.created_at >= since)
    if until:
        q = q.where(Run.created_at < until)
    if search:
        q = q.where(func.lower(Run.tool).contains(search.lower(), autoescape=True))
    q = q.order_by(Run.created_at.desc(), Run.id.desc()).offset(offset).limit(limit)
    return list(s.scalars(q))


__all__ = [
    "RUN_STATUSES",
    "Run",
    "find_run",
    "get_run",
    "list_runs",
    "outcome_of",
    "reconcile_interrupted",
    "run_for_key",
    "stale_after",
]


_runs = table_of(Run)
# Prebuilt: it runs once per payment event, and building the query cost more than running it.
_ANNOTATABLE = (
    select(_runs.c.id)
    .where(
        _runs.c.tenant_id == bindparam("tenant"),
        _runs.c.provider == bindparam("provider"),
        _runs.c.tool.in_(bindparam("tools", expanding=True)),
        _runs.c.status == "succeeded",
        _runs.c.created_at >= bindparam("since"),
    )
    .limit(1)
)


def may_annotate(
    conn: Connection,
    tenant_id: str,
    *,
    provider: str,
    tools: tuple[str, ...],
    within: timedelta = timedelta(days=400),
) -> bool:
    """Whether annotate_results could touch any run (a read: no write lock taken)."""
    params = {
        "tenant": tenant_id,
        "provider": provider,
        "tools": list(tools),
        "since": utcnow() - within,
    }
    return conn.execute(_ANNOTATABLE, params).first() is not None


def annotate_results(
    s: Session,
    tenant_id: str,
    *,
    provider: str,
    tools: tuple[str, ...],
    key: str,
    value: str,
    fields: dict[str, Any],
    within: timedelta = timedelta(days=400),
) -> list[str]:
    """Add `fields` to the result of this tenant's succeeded runs whose result[key] == value
    (what a vendor's event later says about an object a run created) -> the run ids."""
    q = select(Run).where(
        Run.tenant_id == tenant_id,
        Run.provider == provider,
        Run.tool.in_(tools),
        Run.status == "succeeded",
        Run.created_at >= utcnow() - within,
    )
    touched = []
    for run in s.scalars(q.order_by(Run.created_at.desc()).limit(5000)):
        if isinstance(run.result, dict) and run.result.get(key) == value:
            run.result = {**run.result, **fields}
            touched.append(run.id)
    s.flush()
    return touched
