"""Resuming paused runs: when a connection passes a test, the calls paused on it run in the
order they were made, each exactly once (hub.runs.pausing.claim), as the agent that made
them; the agent reads the result from the same run (its queue id)."""

from __future__ import annotations

import logging

from hub.core.callers import Caller
from hub.core.calls import CallRequest
from hub.core.errors import HubError
from hub.runs.callpath import CallPath
from hub.runs.executor import execute
from hub.runs.pausing import args_of, claim, paused_ids

log = logging.getLogger("hub.runs.paused")


def _caller_of(tenant_id: str, actor: str) -> Caller:
    kind, _, ident = actor.partition(":")
    if kind == "user":
        return Caller(tenant_id=tenant_id, kind="admin", user_id=ident)
    return Caller(tenant_id=tenant_id, kind="agent", token_id=ident or None)


async def resume_paused(path: CallPath, tenant_id: str, connection_id: str) -> int:
    """Resume the calls paused on a connection; returns how many ran."""
    with path.db.session() as s:
        ids = paused_ids(s, tenant_id, connection_id)
    ran = 0
    for run_id in ids:
        with path.db.session() as s:
            run = claim(s, run_id)
            if run is None:
                continue  # another process resumed it
            req = CallRequest(
                tool=run.tool,
                args=args_of(run),
                reasoning=run.reasoning,
                idempotency_key=run.idempotency_key,
            )
            caller = _caller_of(tenant_id, run.caller)
        try:
            outcome = await execute(path, caller, req)
        except HubError as exc:
            log.warning("paused run not resumed", extra={"run_id": run_id, "kind": exc.kind})
            continue
        ran += 1
        log.info("paused run resumed", extra={"run_id": run_id, "status": outcome.status})
    return ran
