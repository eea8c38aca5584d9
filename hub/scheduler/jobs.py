"""Periodic work: purge expired grants, reconcile stale in-flight runs, expire authorizations.

With several replicas on one PostgreSQL only the holder of an advisory lock runs the jobs;
SQLite deployments are single-node, so their one hub always does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, text

from hub.db.engine import Database
from hub.permissions import queue
from hub.runs import grants
from hub.runs import service as runs
from hub.runtime import Runtime
from hub.webhooks import service as webhooks

log = logging.getLogger("hub.scheduler")
LOCK_KEY = 0x4855_4253  # "HUBS": the scheduler's advisory lock id


class Leadership:
    """Holds PostgreSQL's advisory lock on a dedicated connection (always leader on SQLite)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None

    def is_leader(self) -> bool:
        """True when this process may run the jobs (tries to take the lock if it has not)."""
        if self.db.url.startswith("sqlite"):
            return True
        if self._conn is not None:
            return True
        conn = self.db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        if got:
            self._conn = conn  # the lock lives as long as this connection
            return True
        conn.close()
        return False

    def release(self) -> None:
        """Give the lock up."""
        if self._conn is not None:
            # Closing only returns the connection to the pool, where the lock would live on.
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            self._conn.close()
            self._conn = None


def job_purge_grants(rt: Runtime) -> int:
    """Delete grants that expired over an hour ago."""
    with rt.db.session() as s:
        return grants.purge_expired(s)


def job_reconcile_runs(rt: Runtime) -> int:
    """Runs in flight for longer than the webhook timeout become outcome_unknown."""
    with rt.db.session() as s:
        return runs.reconcile_interrupted(s, runs.stale_after(rt.settings.run_timeout_s))


def job_expire_authorizations(rt: Runtime) -> int:
    """Pending authorizations past their expiry become expired (reads also check lazily)."""
    with rt.db.session() as s:
        return queue.expire_stale(s)


def job_purge_webhook_events(rt: Runtime) -> int:
    """Delete delivered webhook events past their retention (30 days: dedupe keys outlive
    every vendor's retries)."""
    with rt.db.session() as s:
        return webhooks.purge_old(s)


JOBS: list[tuple[str, Callable[[Runtime], int], int]] = [
    ("purge_grants", job_purge_grants, 300),
    ("reconcile_runs", job_reconcile_runs, 60),
    ("expire_authorizations", job_expire_authorizations, 60),
    ("purge_webhook_events", job_purge_webhook_events, 3600),
]


class Jobs:
    """The running scheduler and the leadership its jobs check."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.leader = Leadership(rt.db)
        self.scheduler = BackgroundScheduler(
            daemon=True, job_defaults={"coalesce": True, "max_instances": 1}
        )
        for name, fn, every in JOBS:
            self.scheduler.add_job(self._guarded(name, fn), "interval", seconds=every, id=name)

    def _guarded(self, name: str, fn: Callable[[Runtime], int]) -> Callable[[], None]:
        def run() -> None:
            try:
                if not self.leader.is_leader():
                    return
                n = fn(self.rt)
                if n:
                    log.info("job done", extra={"job": name, "count": n})
            except Exception as exc:  # a failing job must not kill the scheduler
                log.error("job failed", extra={"job": name, "exc_type": type(exc).__name__})

        return run

    def start(self) -> Jobs:
        """Start running the jobs on their intervals."""
        self.scheduler.start()
        return self

    def stop(self) -> None:
        """Stop the scheduler and release leadership."""
        self.scheduler.shutdown(wait=False)
        self.leader.release()
