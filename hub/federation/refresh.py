"""Refreshing a server's tool list: read its endpoint (DB), list its tools (network), pin
what came back (DB). Used by the REST route, the CLI and the scheduler."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import anyio

from hub.core.errors import HubError
from hub.core.outbound import parse_allow
from hub.core.settings import Settings
from hub.db.engine import Database
from hub.federation import authorize, oauth, service
from hub.federation.discovery import discover
from vault import Vault

log = logging.getLogger("hub.federation")


async def refresh(
    db: Database, vault: Vault, settings: Settings, tenant_id: str, server_id: str, actor: str
) -> service.RefreshReport:
    """List the server's tools now and apply them; a failure moves its health and raises."""
    allow = parse_allow(settings.outbound_allow)

    def load() -> tuple[str, str, Any]:
        with db.session() as s:
            server = service.get_server(s, tenant_id, server_id)
            return (
                server.id,
                server.auth_type,
                service.endpoint(s, vault, server, allow, timeout_s=settings.remote_call_timeout_s),
            )

    sid, auth_type, ep = await anyio.to_thread.run_sync(load)
    if auth_type == "oauth":
        # Fresh or refreshed once for all; without a grant the server waits for an admin
        # (needs_auth), which is not a failure of the server.
        grant = await authorize.current(db, vault, settings, tenant_id, sid)
        ep = dataclasses.replace(ep, headers=oauth.headers_of(grant))
    try:
        found = await discover(ep)
    except HubError as exc:
        reason = exc.message

        def failed() -> str:
            with db.session() as s:
                return service.note_failure(s, sid, reason, actor)

        health = await anyio.to_thread.run_sync(failed)
        log.warning(
            "mcp server refresh failed",
            extra={"server_id": sid, "health": health, "error_kind": exc.kind},
        )
        raise

    def apply() -> service.RefreshReport:
        with db.session() as s:
            return service.apply_discovery(s, sid, found, actor)

    report = await anyio.to_thread.run_sync(apply)
    log.info("mcp server refreshed", extra={"server_id": sid, "tools": report.tools})
    return report


def refresh_due(db: Database, vault: Vault, settings: Settings) -> int:
    """Refresh every server whose time has come (the scheduler's job); returns how many."""
    with db.session() as s:
        todo = service.due(s)
    done = 0
    for tenant_id, server_id in todo:
        try:
            anyio.run(refresh, db, vault, settings, tenant_id, server_id, "scheduler")
            done += 1
        except HubError:
            continue  # recorded on the server (health, last_error, backoff)
    return done
