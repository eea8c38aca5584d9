"""Scheduled jobs do their work against the real database; one leader on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hub.db.base import utcnow
from hub.runs import grants, steps
from hub.runs.models import Grant, Run, StepGrant
from hub.scheduler.jobs import Leadership, job_purge_grants, job_reconcile_runs


def test_jobs_purge_old_grants_and_reconcile_stale_runs(hub_runtime, tenant):
    with hub_runtime.db.session() as s:
        stale = Run(
            tenant_id=tenant.id,
            caller="t",
            tool="send_sms",
            args={},
            args_hash="2" * 64,
            status="sent",
            created_at=utcnow() - timedelta(minutes=10),
        )
        fresh = Run(
            tenant_id=tenant.id,
            caller="t",
            tool="send_sms",
            args={},
            args_hash="3" * 64,
            status="sent",
        )
        s.add_all([stale, fresh])
        s.flush()
        grants.mint(s, tenant.id, stale.id, "con_x")
        s.flush()
        g = s.scalar(select(Grant).where(Grant.run_id == stale.id))
        g.expires_at = utcnow() - timedelta(hours=2)
        steps.mint(s, tenant.id, stale.id, "con_x")
        steps.mint(s, tenant.id, fresh.id, "con_x")
        s.execute(
            update(StepGrant)
            .where(StepGrant.run_id == stale.id)
            .values(expires_at=utcnow() - timedelta(hours=2))
        )
        ids = (stale.id, fresh.id)
    assert job_purge_grants(hub_runtime) >= 2
    assert job_reconcile_runs(hub_runtime) >= 1
    with hub_runtime.db.session() as s:
        assert s.scalar(select(Grant).where(Grant.run_id == ids[0])) is None
        assert s.scalar(select(StepGrant).where(StepGrant.run_id == ids[0])) is None
        assert s.scalar(select(StepGrant).where(StepGrant.run_id == ids[1])) is not None
        assert s.get(Run, ids[0]).status == "outcome_unknown"
        assert s.get(Run, ids[1]).status == "sent"  # younger than the timeout: left alone


def test_only_one_leader_on_postgres(hub_runtime, backend):
    a, b = Leadership(hub_runtime.db), Leadership(hub_runtime.db)
    try:
        assert a.is_leader()
        assert b.is_leader() is (backend == "sqlite")
        a.release()
        assert b.is_leader()
    finally:
        a.release()
        b.release()
