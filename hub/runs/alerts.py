"""Alert emails: a connection entering error emails the tenant's owner once per incident,
through the tenant's own connected email integration (send_email through the spine, as the
hub itself), so it is recorded like any call. hub.connections.health opens the incident; this
sends what is pending (the scheduler's `alert_emails` job, and right after a failing test)."""

from __future__ import annotations

import logging

from hub.accounts import service as accounts
from hub.connections import health
from hub.connections.service import USABLE_STATUSES, list_connections
from hub.core.callers import Caller
from hub.core.calls import CallRequest
from hub.core.errors import HubError
from hub.registry.service import providers_for
from hub.runs.callpath import CallPath
from hub.runs.executor import execute

log = logging.getLogger("hub.runs.alerts")
SYSTEM_ACTOR = "hub:alerts"


async def send_pending_alerts(path: CallPath) -> int:
    """Send the owner emails of newly opened incidents; returns how many were sent."""
    with path.db.session() as s:
        pending = [(n.id, n.tenant_id, n.title, n.body) for n in health.pending_emails(s)]
    sent = 0
    for note_id, tenant_id, title, body in pending:
        with path.db.session() as s:
            if not health.claim_email(s, note_id):
                continue  # another process took it
            owner = accounts.owner_email(s, tenant_id)
            email_providers = {p.integration_slug for p in providers_for(s, "send_email")}
            usable = {
                c.integration_slug
                for c in list_connections(s, tenant_id)
                if c.status in USABLE_STATUSES
            }
        if owner is None:
            status = "no_owner_email"
        elif not email_providers & usable:
            status = "no_email_integration"
        else:
            caller = Caller(tenant_id=tenant_id, kind="system", name=SYSTEM_ACTOR)
            req = CallRequest(
                tool="send_email",
                args={"to": [owner], "subject": title[:200], "text": body},
                idempotency_key=f"alert:{note_id}",
            )
            try:
                outcome = await execute(path, caller, req)
                status = "sent" if outcome.status == "succeeded" else "failed"
            except HubError as exc:
                log.warning("alert email not sent", extra={"kind": exc.kind})
                status = "failed"
        with path.db.session() as s:
            health.finish_email(s, note_id, status)
        sent += status == "sent"
    return sent


async def alert_loop(path: CallPath, every_s: float = 30.0) -> None:
    """Send pending alert emails every `every_s` seconds until cancelled (the app runs it;
    each notification is claimed atomically, so several replicas never send one twice)."""
    import asyncio

    while True:
        try:
            await send_pending_alerts(path)
        except Exception as exc:  # the loop must outlive one bad round
            log.error("alert round failed", extra={"exc_type": type(exc).__name__})
        await asyncio.sleep(every_s)
