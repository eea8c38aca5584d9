"""Running an approved call as the agent that asked for it (REST decisions and the console)."""

from __future__ import annotations

import logging
from typing import Any

import anyio

from hub.core.errors import HubError
from hub.permissions import service
from hub.permissions.models import Authorization

log = logging.getLogger("hub.permissions")


async def run_approved(rt: Any, auth_id: str, actor: str) -> dict[str, Any]:
    """Execute an authorized call exactly once through the spine; returns its outcome."""
    from hub.runs.executor import execute
    from hub.runs.service import CallRequest

    def _load() -> tuple[Any, dict[str, Any]]:
        with rt.db.session() as s:
            auth = s.get(Authorization, auth_id)
            caller = service.agent_caller(s, auth)
            call = {
                "tool": auth.tool,
                "args": dict(auth.args),
                "reasoning": auth.reasoning,
                "key": service.effective_key(auth),
            }
            return caller, call

    outcome: dict[str, Any]
    try:
        caller, call = await anyio.to_thread.run_sync(_load)
        native = _native(call["tool"])
        if native is not None:
            o = await native(rt, caller, call["args"], call["reasoning"], call["key"], auth_id)
        else:
            o = await execute(
                rt,
                caller,
                CallRequest(
                    tool=call["tool"],
                    args=call["args"],
                    reasoning=call["reasoning"],
                    idempotency_key=call["key"],
                    authorization_id=auth_id,
                ),
            )
        outcome = o.to_dict()
    except HubError as exc:
        # Refused at execution time (connection broken, token revoked...): nothing was sent.
        outcome = {"status": "failed", "run_id": None, "error": exc.to_dict()["error"]}
    log.info(
        "approved call run",
        extra={"authorization_id": auth_id, "status": outcome.get("status")},
    )

    def _record() -> None:
        with rt.db.session() as s:
            service.record_execution(s, auth_id, outcome, actor)

    await anyio.to_thread.run_sync(_record)
    return outcome


async def decide_and_run(
    rt: Any,
    caller: Any,
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
        with rt.db.session() as s:
            auth = service.decide(s, caller, auth_id, decision, notes, upgrade_permission)
            return auth.status

    if await anyio.to_thread.run_sync(_decide) == "authorized":
        await run_approved(rt, auth_id, caller.actor)

    def _present() -> dict[str, Any]:
        with rt.db.session() as s:
            return service.present(s, service.get_authorization(s, caller, auth_id))

    return await anyio.to_thread.run_sync(_present)


def _native(tool: str) -> Any:
    """The executor of a hub-native action (connection tools), if the tool is one."""
    from hub.mcp.native import AUTHORIZED_EXECUTORS

    return AUTHORIZED_EXECUTORS.get(tool)
