"""Hub-native actions: calls whose last hop is the hub itself, gated like any tool.

Today one: disconnect_integration (an agent removing a connection). It goes through the same
permission gate as registry tools, so a connection with history is queued for a human; the
authorization queue runs it once approved (hub.approvals looks it up in EXECUTORS).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from hub.connections import service as connections
from hub.core.callers import Caller
from hub.core.calls import CallOutcome, CallRequest
from hub.core.errors import HubError
from hub.core.signals import toolset_changed
from hub.permissions.gate import ToolRef, gate
from hub.runs.callpath import CallPath
from hub.runs.facts import FACTS, held_by_key


async def disconnect_integration(
    path: CallPath,
    caller: Caller,
    args: dict[str, Any],
    reasoning: str | None,
    idempotency_key: str | None,
    authorization_id: str | None = None,
) -> CallOutcome:
    """Remove a connection through the permission gate (history raises it to a human)."""
    slug = str(args.get("integration", ""))

    def _run() -> CallOutcome:
        with path.db.session() as s:
            held = held_by_key(s, caller.tenant_id, idempotency_key)
            # The gate first: a retry with the key of an approved removal replays its outcome.
            gated = gate(
                s,
                caller,
                ToolRef(
                    name="disconnect_integration",
                    permission="soft_limit",
                    secret_fields=[],
                    provider=lambda: slug,
                    spine=False,
                ),
                CallRequest(
                    tool="disconnect_integration",
                    args={"integration": slug},
                    reasoning=reasoning,
                    idempotency_key=idempotency_key,
                    authorization_id=authorization_id,
                ),
                FACTS,
                held_run=held.id if held is not None else None,
            )
            if gated is not None:
                return gated
            conn = connections.connection_for(s, caller.tenant_id, slug)
            if conn is None:
                raise HubError(
                    "not_found",
                    "This business has no connection to that integration; see "
                    "hub_query(type='connections').",
                )
            conn_id = conn.id
            connections.delete_connection(s, path.vault, caller.tenant_id, caller.actor, conn_id)
            return CallOutcome(
                "succeeded",
                None,
                data={"integration": slug, "connection_id": conn_id, "disconnected": True},
            )

    outcome = await anyio.to_thread.run_sync(_run)
    if outcome.status == "succeeded":
        await toolset_changed(caller.tenant_id)
    return outcome


# Runs an approved hub-native call: (call path, agent, args, reasoning, key, queue id).
Executor = Callable[
    [CallPath, Caller, dict[str, Any], str | None, str | None, str | None],
    Awaitable[CallOutcome],
]


# Hub-native actions the authorization queue can run once a human approves them.
EXECUTORS: dict[str, Executor] = {"disconnect_integration": disconnect_integration}
