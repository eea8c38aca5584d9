"""A human's decision on a queued call, and running the approved call exactly once.

REST (/api/authorizations) and the console both decide through decide_and_run(), for owners
and admins only (their callers check). An approved call runs as the agent that asked, through
the same spine as any call (or through the hub-native executor for hub actions), and what it
produced is linked to the authorization.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.core.callers import Caller
from hub.core.calls import CallOutcome, CallRequest
from hub.core.errors import HubError, not_found
from hub.permissions import queue
from hub.permissions.gate import effective_key
from hub.permissions.queue import Authorization
from hub.runs import service as runs
from hub.runs.callpath import CallPath
from hub.runs.executor import execute
from hub.runs.native import EXECUTORS
from hub.runs.service import Run

log = logging.getLogger("hub.approvals")


def run_of(s: Session, auth: Authorization) -> Run | None:
    """The run an approval produced, if any (found by its key when not yet linked)."""
    if auth.run_id:
        return runs.find_run(s, auth.tenant_id, auth.run_id)
    if auth.status != "authorized":
        return None
    return runs.run_for_key(s, auth.tenant_id, effective_key(auth))


def present(s: Session, auth: Authorization) -> dict[str, Any]:
    """An authorization as REST, MCP and the console show it, with its run's outcome."""
    run = run_of(s, auth)
    outcome = runs.outcome_of(run).to_dict() if run is not None else None
    return queue.present(auth, outcome, run.id if run is not None else None)


async def run_approved(path: CallPath, auth_id: str, actor: str) -> dict[str, Any]:
    """Execute an authorized call exactly once through the spine; returns its outcome."""

    def _load() -> tuple[Caller, CallRequest]:
        with path.db.session() as s:
            auth = queue.load(s, auth_id)
            if auth is None:
                raise not_found("authorization")
            caller = accounts.caller_for_token(s, auth.token_id)
            return caller, CallRequest(
                tool=auth.tool,
                args=dict(auth.args),
                reasoning=auth.reasoning,
                idempotency_key=effective_key(auth),
                authorization_id=auth_id,
            )

    outcome: dict[str, Any]
    try:
        caller, req = await anyio.to_thread.run_sync(_load)
        native = EXECUTORS.get(req.tool)
        o: CallOutcome
        if native is not None:
            o = await native(path, caller, req.args, req.reasoning, req.idempotency_key, auth_id)
        else:
            o = await execute(path, caller, req)
        outcome = o.to_dict()
    except HubError as exc:
        # Refused at execution time (connection broken, token revoked...): nothing was sent.
        outcome = {"status": "failed", "run_id": None, "error": exc.to_dict()["error"]}
    log.info(
        "approved call run",
        extra={"authorization_id": auth_id, "status": outcome.get("status")},
    )

    def _record() -> None:
        with path.db.session() as s:
            queue.record_execution(s, auth_id, outcome, actor)

    await anyio.to_thread.run_sync(_record)
    return outcome


async def decide_and_run(
    path: CallPath,
    caller: Caller,
    auth_id: str,
    decision: str,
    notes: str | None = None,
    upgrade_permission: bool = False,
) -> dict[str, Any]:
    """Record a human's decision and, on approval, run the call; returns the presented row.

    The one door for REST and the console: callers must already have checked that the
    decider is an admin (token) or an owner/admin user; agents never reach this.
    """

    def _decide() -> str:
        with path.db.session() as s:
            auth = queue.decide(s, caller, auth_id, decision, notes, upgrade_permission)
            return auth.status

    if await anyio.to_thread.run_sync(_decide) == "authorized":
        await run_approved(path, auth_id, caller.actor)

    def _present() -> dict[str, Any]:
        with path.db.session() as s:
            return present(s, queue.get_authorization(s, caller, auth_id))

    return await anyio.to_thread.run_sync(_present)
