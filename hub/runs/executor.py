"""Running a tool call end to end from async code (REST, MCP and approvals share it)."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from sqlalchemy.exc import IntegrityError

from hub.core.callers import Caller
from hub.core.calls import CallOutcome, CallRequest
from hub.core.errors import HubError
from hub.core.hop import NotSent, OutcomeUnknown
from hub.core.logs import run_id_var
from hub.federation.service import is_remote_name
from hub.runs.callpath import CallPath
from hub.runs.remote import execute_remote
from hub.runs.spine import finish, precheck, prepare

log = logging.getLogger("hub.runs")


async def execute(path: CallPath, caller: Caller, req: CallRequest) -> CallOutcome:
    """Prepare (DB), POST the workflow webhook, finish (DB); refusals raise HubError."""
    with path.db.writer.calling():
        if is_remote_name(req.tool):
            # A tool of an admin-registered MCP server (<server>__<tool>): the remote hop.
            return await execute_remote(path, caller, req)
        return await _execute(path, caller, req)


async def _execute(path: CallPath, caller: Caller, req: CallRequest) -> CallOutcome:
    edge_url = path.edge_url
    checked = precheck(path.db.engine, caller, req)
    try:
        prepared = await path.db.writer.run(lambda s: prepare(s, caller, req, edge_url, checked))
    except IntegrityError:
        # Two replicas raced with one idempotency key: the other one holds it.
        raise HubError(
            "in_progress",
            "A call with this idempotency key is in progress; "
            "it will not be run twice. Retry later to get its result.",
        ) from None
    if isinstance(prepared, CallOutcome):
        return prepared
    d = prepared
    token = run_id_var.set(d.run_id)
    try:
        answer: dict[str, Any] | None = None
        failure: tuple[str, str] | None = None
        if path.hop is None:
            await anyio.to_thread.run_sync(path.refresh_hop)
        hop = path.hop
        if hop is None:
            failure = (
                "n8n_unavailable",
                "No n8n is set up for this hub: run `hub up` for a local one, or set "
                "HUB_N8N_URL and HUB_N8N_API_KEY and run `hub workflows deploy`. Nothing was "
                "sent; retry with the same idempotency key.",
            )
        else:
            try:
                answer = await hop.post(d.path, d.body)
            except NotSent as exc:
                failure = (
                    "n8n_unavailable",
                    f"{exc}. Nothing was sent; retry with the same "
                    "idempotency key once n8n is back.",
                )
            except OutcomeUnknown as exc:
                failure = (
                    "outcome_unknown",
                    f"{exc}. The vendor may or may not have acted; the call was not resent.",
                )

        handed_out = path.handouts.pop(d.run_id)
        outcome = await path.db.writer.run(
            lambda s: finish(
                s, d, answer, failure, vault=path.vault, usage=path.usage, edge_secrets=handed_out
            )
        )
        log.info(
            "tool call",
            extra={
                "tool": d.tool,
                "provider": d.provider,
                "status": outcome.status,
                "error_kind": (outcome.error or {}).get("kind"),
            },
        )
        return outcome
    finally:
        run_id_var.reset(token)
