"""Periodic work: purge expired grants, reconcile stale in-flight runs, expire authorizations,
refresh remote MCP servers' tool lists.

With several replicas on one PostgreSQL only the holder of an advisory lock runs the jobs;
SQLite deployments are single-node, so their one hub always does.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from hub.accounts.oauth_states import purge_states
from hub.audit import service as audit
from hub.connections import service as connections
from hub.connections.links import purge_links
from hub.connections.oauth import keepalive as oauth_keepalive
from hub.db.engine import Database
from hub.federation import authorize as mcp_authorize
from hub.federation import refresh as mcp_refresh
from hub.n8n import liveness
from hub.permissions import queue
from hub.runs import grants, steps
from hub.runs import service as runs
from hub.runs.pausing import expire_paused
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
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except DBAPIError:
                # The database restarted: the lock went with the connection, and another
                # replica may hold it now. Try again like any follower.
                self._drop()
                log.warning("scheduler leadership lost", extra={"pid": os.getpid()})
        conn = self.db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        if got:
            self._conn = conn  # the lock lives as long as this connection
            log.info("scheduler leadership taken", extra={"pid": os.getpid()})
            return True
        conn.close()
        return False

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()  # never back to the pool
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        """Give the lock up."""
        if self._conn is not None:
            try:
                # Closing only returns the connection to the pool, where the lock would live on.
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.close()
                self._conn = None
            except DBAPIError:
                self._drop()  # the database is gone, and the lock with it


def job_purge_grants(rt: Runtime) -> int:
    """Delete credential and step grants that expired over an hour ago."""
    with rt.db.session() as s:
        return grants.purge_expired(s) + steps.purge_expired(s)


def job_reconcile_runs(rt: Runtime) -> int:
    """Runs in flight for longer than the webhook timeout become outcome_unknown."""
    with rt.db.session() as s:
        return runs.reconcile_interrupted(s, runs.stale_after(rt.settings.run_timeout_s))


def job_expire_authorizations(rt: Runtime) -> int:
    """Pending authorizations past their expiry become expired (reads also check lazily)."""
    with rt.db.session() as s:
        return queue.expire_stale(s)


def job_refresh_tokens(rt: Runtime) -> int:
    """OAuth tokens about to expire, or idle too long, are refreshed (one flight each):
    integrations' and remote MCP servers'."""
    return oauth_keepalive.refresh_due(rt.db, rt.calls.refresher) + mcp_authorize.refresh_expiring(
        rt.db, rt.vault, rt.settings
    )


def job_purge_oauth_states(rt: Runtime) -> int:
    """Delete OAuth states that expired over an hour ago, and expired connect links."""
    with rt.db.session() as s:
        return purge_states(s) + purge_links(s)


def job_refresh_mcp_servers(rt: Runtime) -> int:
    """Refresh the tool lists of remote MCP servers that are due (interval with jitter,
    backoff while failing, sooner when a server said its list changed)."""
    return mcp_refresh.refresh_due(rt.db, rt.vault, rt.settings)


_alerted: set[str] = set()  # dead webhooks already alerted on (once each, until healed)
_suspect: set[str] = set()  # dead on the last sweep once: alerted if still dead on the next


def job_webhook_liveness(rt: Runtime) -> int:
    """Each live binding's webhook answers; a dead one is redeployed, else alerted on."""
    checks = liveness.check_webhooks(rt)
    acted = 0
    for c in checks:
        key = str(c.ref)
        if c.result == liveness.ALIVE:
            _alerted.discard(key)
            _suspect.discard(key)
            continue
        if c.result == liveness.UNREACHABLE:
            continue  # n8n itself is down: calls say n8n_unavailable, nothing to redeploy
        acted += 1
        healed = c.result == liveness.HEALED
        if healed:
            _suspect.discard(key)
        elif key in _alerted:
            continue
        elif key not in _suspect:
            # Dead on two sweeps in a row before anyone is paged: an n8n main restarting
            # answers 404 for a while and refuses publishes until its webhooks are back.
            _suspect.add(key)
            continue
        if not healed:
            _alerted.add(key)
            log.error(
                "webhook alert",
                extra={"workflow": key, "webhook_path": c.webhook_path, "detail": c.detail},
            )
        with rt.db.session() as s:  # every tenant using it sees it in its audit log
            for tenant_id in connections.tenants_using(s, c.integration):
                audit.record(
                    s,
                    tenant_id,
                    "scheduler",
                    "workflow.webhook_redeployed" if healed else "workflow.webhook_dead",
                    target=key,
                    integration=c.integration,
                    success=healed,
                    error_message=None if healed else c.detail,
                )
    return acted


def job_expire_paused(rt: Runtime) -> int:
    """Paused calls past their time limit end expired."""
    with rt.db.session() as s:
        return expire_paused(s)


def job_purge_webhook_events(rt: Runtime) -> int:
    """Delete delivered webhook events past their retention (30 days: dedupe keys outlive
    every vendor's retries)."""
    with rt.db.session() as s:
        return webhooks.purge_old(s)


JOBS: list[tuple[str, Callable[[Runtime], int], int]] = [
    ("purge_grants", job_purge_grants, 300),
    ("reconcile_runs", job_reconcile_runs, 60),
    ("expire_authorizations", job_expire_authorizations, 60),
    ("refresh_tokens", job_refresh_tokens, 60),
    ("purge_oauth_states", job_purge_oauth_states, 600),
    ("refresh_mcp_servers", job_refresh_mcp_servers, 30),
    ("webhook_liveness", job_webhook_liveness, 60),
    ("expire_paused_runs", job_expire_paused, 60),
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
            seconds = rt.settings.scheduler_interval_s or every
            self.scheduler.add_job(self._guarded(name, fn), "interval", seconds=seconds, id=name)

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
