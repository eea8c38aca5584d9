"""The federation door: register, list, refresh results, approve or reject, remove; what an
agent is offered and what a call may reach. Every change is audited; a server's secret is a
vault id here and nowhere else."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.core import caches
from hub.core.errors import HubError, not_found
from hub.core.outbound import Allow, check_url
from hub.db.base import table_of, utcnow
from hub.federation import oauth
from hub.federation.discovery import Discovery, Endpoint
from hub.federation.models import AUTH_TYPES, TRANSPORTS, McpServer, McpTool
from hub.federation.pinning import (
    NAME_RE,
    diff,
    exposed_name,
    proposed_permission,
    schema_hash,
)
from vault import Vault

PERMISSIONS = ("unrestricted", "soft_limit", "requires_authorization")
WARN_AFTER = 1  # failed refreshes before warning
ERROR_AFTER = 3  # ... and before error (its tools are no longer offered)
MIN_INTERVAL_S = 60
JITTER = 0.1


@dataclass
class RefreshReport:
    """What one refresh changed."""

    server: str
    tools: int = 0
    new: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "server": self.server,
            "tools": self.tools,
            "new": self.new,
            "held": self.held,
            "renamed": [{"from": a, "to": b} for a, b in self.renamed],
            "removed": self.removed,
            "restored": self.restored,
        }


@dataclass(frozen=True)
class Offered:
    """An approved remote tool as agents see it."""

    name: str
    server: str
    remote_name: str
    permission: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class CallTarget:
    """What the spine needs to call one remote tool."""

    server_id: str
    server_name: str
    tool_id: str
    remote_name: str
    exposed: str
    permission: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    url: str
    transport: str
    credential_id: str | None
    auth_type: str
    auth_header: str | None
    protocol: str | None


# ---------------------------------------------------------------- registration


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise HubError(
            "invalid_request",
            "name must be a slug: a lowercase letter, then up to 23 lowercase letters, digits "
            "or hyphens (it becomes the tools' namespace, <name>__<tool>).",
            details={"field": "name"},
        )
    return name


def _secret_fields(auth: dict[str, Any]) -> tuple[str, str | None, dict[str, str]]:
    """(auth type, header name, fields for the vault) from a registration's auth."""
    kind = auth.get("type", "none")
    if kind not in AUTH_TYPES:
        raise HubError(
            "invalid_request",
            f"auth.type must be one of {', '.join(AUTH_TYPES)}.",
            details={"field": "auth.type"},
        )
    if kind == "none":
        return kind, None, {}
    if kind == "bearer":
        token = auth.get("token")
        if not isinstance(token, str) or not token.strip():
            raise HubError(
                "invalid_request",
                "auth.token is required for bearer auth (the server's own token, never a "
                "hub token).",
                details={"field": "auth.token"},
            )
        return kind, None, {"token": token}
    if kind == "header":
        header, value = auth.get("header"), auth.get("value")
        if not isinstance(header, str) or not header.strip() or len(header) > 100:
            raise HubError(
                "invalid_request",
                "auth.header (the header name, e.g. X-API-Key) is required for header auth.",
                details={"field": "auth.header"},
            )
        if header.lower() in ("host", "content-type", "content-length", "mcp-session-id"):
            raise HubError(
                "invalid_request",
                "auth.header cannot be a header the MCP transport sets itself.",
                details={"field": "auth.header"},
            )
        if not isinstance(value, str) or not value.strip():
            raise HubError(
                "invalid_request",
                "auth.value is required for header auth.",
                details={"field": "auth.value"},
            )
        return kind, header.strip(), {"value": value}
    # oauth: a pre-registered client, if any; the tokens come with an admin's consent.
    return kind, None, oauth.client_fields(auth)


def register(
    s: Session,
    vault: Vault,
    tenant_id: str,
    actor: str,
    *,
    name: str,
    url: str,
    transport: str = "auto",
    auth: dict[str, Any] | None = None,
    allow: Allow,
    refresh_interval_s: int = 3600,
) -> McpServer:
    """Register a server (its tools arrive pending with the first refresh)."""
    _check_name(name)
    if transport not in TRANSPORTS:
        raise HubError(
            "invalid_request",
            f"transport must be one of {', '.join(TRANSPORTS)}.",
            details={"field": "transport"},
        )
    if not isinstance(url, str) or len(url) > 1000:
        raise HubError("invalid_request", "url must be a string of at most 1000 characters.")
    check_url(url, allow)
    if refresh_interval_s < MIN_INTERVAL_S:
        raise HubError(
            "invalid_request",
            f"refresh_interval_s must be at least {MIN_INTERVAL_S}.",
            details={"field": "refresh_interval_s"},
        )
    kind, header, fields = _secret_fields(auth or {"type": "none"})
    taken = s.scalar(
        select(McpServer.id).where(McpServer.tenant_id == tenant_id, McpServer.name == name)
    )
    if taken is not None:
        raise HubError(
            "conflict",
            "This tenant already has an MCP server of that name; pick another name or remove "
            "the old one.",
            details={"field": "name"},
        )
    server = McpServer(
        tenant_id=tenant_id,
        name=name,
        url=url,
        transport=transport,
        auth_type=kind,
        auth_header=header,
        refresh_interval_s=refresh_interval_s,
        # An OAuth server waits for an admin's consent before anything can list its tools.
        health="needs_auth" if kind == "oauth" else "pending",
        last_error=(
            "Waiting for an admin to authorize the hub (MCP servers > Authorize)."
            if kind == "oauth"
            else None
        ),
        next_refresh_at=utcnow(),
        created_by=actor,
    )
    s.add(server)
    s.flush()
    if fields:
        kept = "oauth_token" if kind == "oauth" else "api_key"
        cred = vault.put(s, tenant_id=tenant_id, owner_id=server.id, kind=kept, fields=fields)
        server.credential_id = cred.id
    record(
        s,
        tenant_id,
        actor,
        "mcp_server.registered",
        target=server.id,
        integration=f"mcp:{name}",
        details={"name": name, "transport": transport, "auth": kind},
    )
    s.flush()
    return server


def list_servers(s: Session, tenant_id: str) -> list[McpServer]:
    """This tenant's servers, by name."""
    return list(
        s.scalars(
            select(McpServer).where(McpServer.tenant_id == tenant_id).order_by(McpServer.name)
        )
    )


def get_server(s: Session, tenant_id: str, server_id: str) -> McpServer:
    """One server of this tenant (by id or name); another tenant's is not found."""
    row = s.scalar(
        select(McpServer).where(
            McpServer.tenant_id == tenant_id,
            (McpServer.id == server_id) | (McpServer.name == server_id),
        )
    )
    if row is None:
        raise not_found("MCP server")
    return row


def tools_of(s: Session, server_id: str) -> list[McpTool]:
    """A server's tools, by name."""
    return list(
        s.scalars(select(McpTool).where(McpTool.server_id == server_id).order_by(McpTool.name))
    )


def tool_diff(t: McpTool) -> list[dict[str, Any]]:
    """What changed since the approved definition (every field for a never-approved tool)."""
    if t.approved_definition is None:
        return []
    return diff(t.approved_definition, t.definition)


def remove(s: Session, vault: Vault, tenant_id: str, actor: str, server_id: str) -> None:
    """Remove a server, its tools and its secret."""
    server = get_server(s, tenant_id, server_id)
    if server.credential_id:
        vault.delete(s, tenant_id, server.credential_id)
    for t in tools_of(s, server.id):
        s.delete(t)
    name = server.name
    s.delete(server)
    record(
        s,
        tenant_id,
        actor,
        "mcp_server.removed",
        target=server_id,
        integration=f"mcp:{name}",
        details={"name": name},
    )
    s.flush()


def endpoint(
    s: Session, vault: Vault, server: McpServer, allow: Allow, timeout_s: float = 30.0
) -> Endpoint:
    """How to reach a server, with its credential read from the vault."""
    return Endpoint(
        url=server.url,
        transport=server.resolved_transport or server.transport,
        allow=allow,
        headers=_auth_headers(s, vault, server.tenant_id, server),
        timeout_s=timeout_s,
        protocol=(server.server_info or {}).get("protocol"),
    )


def _auth_headers(s: Session, vault: Vault, tenant_id: str, server: Any) -> dict[str, str]:
    if not server.credential_id:
        return {}
    return _headers_of(server, vault.read(s, tenant_id, server.credential_id))


def _headers_of(server: Any, fields: dict[str, str]) -> dict[str, str]:
    if server.auth_type == "bearer":
        return {"Authorization": f"Bearer {fields['token']}"}
    if server.auth_type == "header" and server.auth_header:
        return {server.auth_header: fields["value"]}
    if server.auth_type == "oauth":
        return oauth.headers_of(fields)
    return {}


def call_credential(
    s: Session, vault: Vault, tenant_id: str, target: CallTarget
) -> tuple[dict[str, str], list[str], bool]:
    """The credential headers of a call target, its secret values (for scrubbing results),
    and whether its OAuth token must be refreshed first, from one vault read."""
    if not target.credential_id:
        return {}, [], target.auth_type == "oauth"
    fields = vault.read(s, tenant_id, target.credential_id)
    if target.auth_type == "oauth":
        return oauth.headers_of(fields), oauth.secrets_of(fields), oauth.expiring(fields)
    return _headers_of(target, fields), [v for v in fields.values() if isinstance(v, str)], False


# ---------------------------------------------------------------- refresh results


def _next(server: McpServer, now: datetime, ttl_ms: int | None = None) -> datetime:
    base = float(server.refresh_interval_s)
    if ttl_ms is not None and ttl_ms > 0:
        # The server's own caching hint (2026-07-28) when it asks for sooner.
        base = max(float(MIN_INTERVAL_S), min(base, ttl_ms / 1000))
    return now + timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


def apply_discovery(s: Session, server_id: str, found: Discovery, actor: str) -> RefreshReport:
    """Store what a refresh listed and pin: new tools pending, changed approved ones held,
    renames told apart, vanished ones removed. Every change is audited."""
    server = s.get(McpServer, server_id)
    if server is None:
        raise not_found("MCP server")
    now = utcnow()
    report = RefreshReport(server=server.name, tools=len(found.tools))
    rows = {t.name: t for t in tools_of(s, server.id)}
    listed = {t.name: t for t in found.tools}
    vanished = [r for n, r in rows.items() if n not in listed and r.state != "removed"]

    def audit(action: str, tool: str, **details: Any) -> None:
        record(
            s,
            server.tenant_id,
            actor,
            action,
            target=f"{server.name}__{tool}"[:200],
            integration=f"mcp:{server.name}",
            details={"server": server.name, "tool": tool, **details},
        )

    for name, item in listed.items():
        row = rows.get(name)
        h = item.hash
        if row is None:
            twin = next(
                (r for r in vanished if schema_hash(r.definition) == schema_hash(item.definition)),
                None,
            )
            if twin is not None:
                vanished.remove(twin)
                old = twin.name
                twin.name = name
                twin.exposed_name = exposed_name(server.name, name)
                twin.renamed_from = old
                twin.definition = item.definition
                twin.hash = h
                twin.changed_at = now
                twin.proposed_permission = proposed_permission(item.definition.get("annotations"))
                if twin.state == "approved":
                    twin.state = "held"
                    report.held.append(name)
                report.renamed.append((old, name))
                audit("mcp_tool.renamed", name, renamed_from=old, state=twin.state)
                continue
            s.add(
                McpTool(
                    server_id=server.id,
                    tenant_id=server.tenant_id,
                    name=name,
                    exposed_name=exposed_name(server.name, name),
                    definition=item.definition,
                    hash=h,
                    state="pending",
                    proposed_permission=proposed_permission(item.definition.get("annotations")),
                )
            )
            report.new.append(name)
            audit("mcp_tool.discovered", name, hash=h)
            continue
        if row.state == "removed":
            row.state = (
                "approved"
                if row.approved_hash == h
                else ("held" if row.approved_hash else "pending")
            )
            row.definition, row.hash, row.changed_at = item.definition, h, now
            audit("mcp_tool.reappeared", name, state=row.state)
            continue
        if row.hash == h:
            continue
        fields = [d["field"] for d in diff(row.definition, item.definition)]
        row.definition, row.hash, row.changed_at = item.definition, h, now
        row.proposed_permission = proposed_permission(item.definition.get("annotations"))
        if row.state == "approved":
            row.state = "held"
            report.held.append(name)
            audit("mcp_tool.held", name, changed=fields, hash=h, approved_hash=row.approved_hash)
        elif row.state == "held" and h == row.approved_hash:
            row.state = "approved"
            report.restored.append(name)
            audit("mcp_tool.restored", name, hash=h)
        elif row.state == "rejected":
            row.state = "pending"
            audit("mcp_tool.changed", name, changed=fields, hash=h, state="pending")
        else:
            audit("mcp_tool.changed", name, changed=fields, hash=h, state=row.state)
    for row in vanished:
        row.state = "removed"
        row.changed_at = now
        report.removed.append(row.name)
        audit("mcp_tool.removed", row.name)

    was = server.health
    server.health = "connected"
    server.failures = 0
    server.last_error = None
    server.last_refresh_at = server.last_success_at = now
    server.resolved_transport = found.transport
    server.server_info = {**found.server_info, "protocol": found.protocol}
    server.next_refresh_at = _next(server, now, found.ttl_ms)
    if was != "connected":
        record(
            s,
            server.tenant_id,
            actor,
            "mcp_server.health",
            target=server.id,
            integration=f"mcp:{server.name}",
            details={"from": was, "to": "connected"},
        )
    s.flush()
    return report


def note_failure(s: Session, server_id: str, reason: str, actor: str) -> str:
    """A refresh failed: warning, then error (tools withdrawn); backoff to the next try."""
    server = s.get(McpServer, server_id)
    if server is None:
        raise not_found("MCP server")
    now = utcnow()
    server.failures += 1
    was = server.health
    server.health = "error" if server.failures >= ERROR_AFTER else "warning"
    server.last_error = reason[:1000]
    server.last_refresh_at = now
    backoff = min(float(server.refresh_interval_s), MIN_INTERVAL_S * 2.0 ** (server.failures - 1))
    server.next_refresh_at = now + timedelta(seconds=backoff * random.uniform(1, 1 + JITTER))
    if was != server.health:
        record(
            s,
            server.tenant_id,
            actor,
            "mcp_server.health",
            target=server.id,
            integration=f"mcp:{server.name}",
            success=False,
            error_message=server.last_error,
            details={"from": was, "to": server.health, "failures": server.failures},
        )
    s.flush()
    return server.health


def mark_for_refresh(s: Session, server_id: str) -> None:
    """The server said its tool list changed (notifications/tools/list_changed)."""
    server = s.get(McpServer, server_id)
    if server is not None:
        server.next_refresh_at = utcnow()


def due(s: Session, now: datetime | None = None) -> list[tuple[str, str]]:
    """(tenant id, server id) of every server whose refresh is due."""
    at = now or utcnow()
    rows = s.execute(
        select(McpServer.tenant_id, McpServer.id).where(
            (McpServer.next_refresh_at.is_(None)) | (McpServer.next_refresh_at <= at),
            # Nothing to list until an admin authorizes it (trying would only fail).
            McpServer.health != "needs_auth",
        )
    )
    return [(str(a), str(b)) for a, b in rows]


# ---------------------------------------------------------------- approval


def _tool(s: Session, tenant_id: str, server_id: str, tool: str) -> tuple[McpServer, McpTool]:
    server = get_server(s, tenant_id, server_id)
    row = s.scalar(
        select(McpTool).where(
            McpTool.server_id == server.id, (McpTool.name == tool) | (McpTool.exposed_name == tool)
        )
    )
    if row is None:
        raise not_found("tool on that MCP server")
    return server, row


def find_tool(s: Session, tenant_id: str, server_id: str, tool: str) -> McpTool:
    """One tool of one of this tenant's servers (by remote or exposed name)."""
    return _tool(s, tenant_id, server_id, tool)[1]


def approve(
    s: Session,
    tenant_id: str,
    actor: str,
    server_id: str,
    tool: str,
    permission: str | None = None,
) -> McpTool:
    """Approve a tool as it is listed now (pins its hash), at the proposed level or another."""
    server, row = _tool(s, tenant_id, server_id, tool)
    if row.state == "removed":
        raise HubError("conflict", "That tool is no longer listed by the server; refresh first.")
    level = permission or row.proposed_permission
    if level not in PERMISSIONS:
        raise HubError(
            "invalid_request",
            f"permission must be one of {', '.join(PERMISSIONS)}.",
            details={"field": "permission"},
        )
    before = row.state
    changed = tool_diff(row)
    row.state = "approved"
    row.permission = level
    row.approved_definition = dict(row.definition)
    row.approved_hash = row.hash
    row.approved_by = actor
    row.approved_at = utcnow()
    record(
        s,
        tenant_id,
        actor,
        "mcp_tool.approved",
        target=row.exposed_name,
        integration=f"mcp:{server.name}",
        details={
            "server": server.name,
            "tool": row.name,
            "hash": row.hash,
            "permission": level,
            "proposed": row.proposed_permission,
            "was": before,
            "changed": [d["field"] for d in changed],
        },
    )
    s.flush()
    return row


def reject(s: Session, tenant_id: str, actor: str, server_id: str, tool: str) -> McpTool:
    """Reject a tool: never offered (until it changes and an admin looks again)."""
    server, row = _tool(s, tenant_id, server_id, tool)
    before = row.state
    row.state = "rejected"
    record(
        s,
        tenant_id,
        actor,
        "mcp_tool.rejected",
        target=row.exposed_name,
        integration=f"mcp:{server.name}",
        details={"server": server.name, "tool": row.name, "hash": row.hash, "was": before},
    )
    s.flush()
    return row


# ---------------------------------------------------------------- agents


def revision(s: Session, tenant_id: str) -> tuple[Any, ...]:
    """A cheap fingerprint of what this tenant's agents are offered (for listing caches)."""
    row = s.execute(
        select(func.count(McpTool.id), func.max(McpTool.updated_at)).where(
            McpTool.tenant_id == tenant_id
        )
    ).one()
    srv = s.execute(
        select(func.count(McpServer.id), func.max(McpServer.updated_at)).where(
            McpServer.tenant_id == tenant_id
        )
    ).one()
    return (row[0], str(row[1]), srv[0], str(srv[1]))


def offered(s: Session, tenant_id: str) -> list[Offered]:
    """Approved tools of servers not in error, from the cache (never a remote call)."""
    rows = s.execute(
        select(McpTool, McpServer.name)
        .join(McpServer, McpServer.id == McpTool.server_id)
        .where(
            McpTool.tenant_id == tenant_id,
            McpTool.state == "approved",
            McpServer.health.not_in(("error", "needs_auth")),
        )
        .order_by(McpTool.exposed_name)
    )
    return [
        Offered(
            name=t.exposed_name,
            server=server,
            remote_name=t.name,
            permission=t.permission or t.proposed_permission,
            definition=t.approved_definition or t.definition,
        )
        for t, server in rows
    ]


def is_remote_name(name: str) -> bool:
    """Whether a tool name is in a remote server's namespace."""
    return "__" in name


# Columns, not objects, and without the ORM: resolving runs on every remote call, and
# loading two whole rows (every JSON column decoded) cost more than the rest of the lookup.
_tools, _servers = table_of(McpTool), table_of(McpServer)
_RESOLVE = (
    select(
        _tools.c.id,
        _tools.c.name,
        _tools.c.exposed_name,
        _tools.c.state,
        _tools.c.permission,
        _tools.c.proposed_permission,
        _tools.c.approved_hash,
        _servers.c.id.label("server_id"),
        _servers.c.name.label("server_name"),
        _servers.c.health,
        _servers.c.last_error,
        _servers.c.url,
        _servers.c.transport,
        _servers.c.resolved_transport,
        _servers.c.credential_id,
        _servers.c.auth_type,
        _servers.c.auth_header,
        _servers.c.server_info,
    )
    .join(_servers, _servers.c.id == _tools.c.server_id)
    .where(_tools.c.tenant_id == bindparam("tenant_id"), _tools.c.exposed_name == bindparam("name"))
)


def resolve(s: Session, tenant_id: str, name: str) -> CallTarget:
    """The call target of an exposed name, or a refusal that says why it cannot run."""
    s.flush()  # a Core read on the session's connection: what this session changed first
    t = s.connection().execute(_RESOLVE, {"tenant_id": tenant_id, "name": name}).first()
    if t is None:
        raise HubError("not_found", "No tool of that name is offered to this agent.")
    if t.state == "held":
        raise HubError(
            "tool_held",
            f"This tool changed on the MCP server '{t.server_name}' since an admin approved it "
            "(its description, schema or annotations differ), so the hub holds it. An admin "
            "must review the change and re-approve it in the console (MCP servers) before it "
            "can run again.",
            details={"server": t.server_name},
        )
    if t.state != "approved":
        raise HubError(
            "not_available",
            f"This tool is {t.state} on the MCP server '{t.server_name}': an admin must approve "
            "it first.",
            details={"server": t.server_name},
        )
    if t.health == "error":
        raise HubError(
            "not_available",
            f"The MCP server '{t.server_name}' is failing ({t.last_error or 'no detail'}); "
            "its tools are withdrawn until it answers again.",
            details={"server": t.server_name},
        )
    if t.health == "needs_auth":
        raise HubError(
            "not_connected",
            f"The MCP server '{t.server_name}' needs an admin to authorize the hub again (OAuth: "
            f"{t.last_error or 'no token'}); its tools wait until then.",
            details={"server": t.server_name},
        )
    pinned = _pinned(s, t.id, t.approved_hash)
    return CallTarget(
        server_id=t.server_id,
        server_name=t.server_name,
        tool_id=t.id,
        remote_name=t.name,
        exposed=t.exposed_name,
        permission=t.permission or t.proposed_permission,
        input_schema=pinned.get("input_schema") or {"type": "object"},
        output_schema=pinned.get("output_schema"),
        url=t.url,
        transport=t.resolved_transport or t.transport,
        credential_id=t.credential_id,
        auth_type=t.auth_type,
        auth_header=t.auth_header,
        protocol=(t.server_info or {}).get("protocol"),
    )


# Pinned definitions by their hash: content-addressed, so never stale. The same dicts every
# call also let the argument and result validators find theirs by identity.
_PINS: dict[str, dict[str, Any]] = {}
caches.register(_PINS.clear)


def _pinned(s: Session, tool_id: str, approved_hash: str | None) -> dict[str, Any]:
    """The tool's pinned definition (its listing, for tools approved before pins were kept)."""
    hit = _PINS.get(approved_hash) if approved_hash else None
    if hit is not None:
        return hit
    row = s.execute(
        select(McpTool.approved_definition, McpTool.definition).where(McpTool.id == tool_id)
    ).first()
    pinned = (row.approved_definition or row.definition or {}) if row is not None else {}
    if approved_hash and row is not None and row.approved_definition is not None:
        if len(_PINS) > 4096:
            _PINS.clear()
        _PINS[approved_hash] = pinned
    return pinned


def note_call(s: Session, target: CallTarget) -> None:
    """Usage counters of a server and a tool after a call."""
    # In SQL (calls = calls + 1): two replicas counting at once must not lose a call, and
    # loading both rows to bump a counter cost more than the rest of the bookkeeping.
    # updated_at stays: a call changes nothing agents are offered, so the listing caches
    # keyed on it (hub.mcp.tools) stay valid.
    now = utcnow()
    db = s.connection()
    db.execute(_BUMP[0], {"row_id": target.server_id, "at": now})
    db.execute(_BUMP[1], {"row_id": target.tool_id, "at": now})


def _bump(model: Any) -> Any:
    t = table_of(model)
    return (
        t.update()
        .where(t.c.id == bindparam("row_id"))
        .values(calls=t.c.calls + 1, last_called_at=bindparam("at"), updated_at=t.c.updated_at)
    )


_BUMP = (_bump(McpServer), _bump(McpTool))  # built once: statement building cost more
