"""REST bodies and answers for MCP servers (no secret ever appears in an answer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.federation import service
from hub.federation.models import McpServer, McpTool


class AuthIn(BaseModel):
    """How the hub authenticates to the server (values go to the vault)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "bearer", "header", "oauth"] = "none"
    token: str | None = Field(default=None, max_length=8192, description="bearer: the token.")
    header: str | None = Field(default=None, max_length=100, description="header: its name.")
    value: str | None = Field(default=None, max_length=8192, description="header: its value.")
    client_id: str | None = Field(
        default=None,
        max_length=500,
        description="oauth: a client pre-registered at the server's authorization server "
        "(leave out to use a client ID metadata document or dynamic registration).",
    )
    client_secret: str | None = Field(
        default=None, max_length=2000, description="oauth: that client's secret, if any."
    )
    scope: str | None = Field(
        default=None,
        max_length=500,
        description="oauth: scopes to ask for (default: what the server's metadata lists).",
    )


class ServerCreate(BaseModel):
    """POST /api/mcp-servers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=24, description="A slug; the tools' namespace.")
    url: str = Field(max_length=1000, description="The server's MCP endpoint.")
    transport: Literal["auto", "streamable_http", "sse"] = "auto"
    auth: AuthIn = Field(default_factory=AuthIn)
    refresh_interval_s: int = Field(default=3600, ge=60, le=7 * 86400)


class ApproveIn(BaseModel):
    """POST .../tools/{tool}/approve."""

    model_config = ConfigDict(extra="forbid")

    permission: Literal["unrestricted", "soft_limit", "requires_authorization"] | None = None


class ToolOut(BaseModel):
    """A remote tool, its state and (when held) what changed."""

    name: str
    exposed_name: str
    state: str
    title: str | None
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any] | None
    hash: str
    approved_hash: str | None
    proposed_permission: str
    permission: str | None
    renamed_from: str | None
    changes: list[dict[str, Any]]
    changed_at: datetime | None
    approved_at: datetime | None
    approved_by: str | None
    calls: int


class ServerOut(BaseModel):
    """A registered server with its health; secrets only as 'set'."""

    id: str
    name: str
    url: str
    transport: str
    resolved_transport: str | None
    auth: dict[str, Any]
    health: str
    last_error: str | None
    failures: int
    refresh_interval_s: int
    last_refresh_at: datetime | None
    last_success_at: datetime | None
    next_refresh_at: datetime | None
    protocol: str | None
    calls: int
    tool_counts: dict[str, int]
    pending_changes: int
    created_at: datetime
    tools: list[ToolOut] | None = None
    refresh: dict[str, Any] | None = None


class ServerList(BaseModel):
    """GET /api/mcp-servers."""

    data: list[ServerOut]


def tool_out(t: McpTool) -> ToolOut:
    """A tool row as the API shows it."""
    d = t.definition or {}
    return ToolOut(
        name=t.name,
        exposed_name=t.exposed_name,
        state=t.state,
        title=d.get("title"),
        description=d.get("description") or "",
        input_schema=d.get("input_schema") or {},
        output_schema=d.get("output_schema"),
        annotations=d.get("annotations"),
        hash=t.hash,
        approved_hash=t.approved_hash,
        proposed_permission=t.proposed_permission,
        permission=t.permission,
        renamed_from=t.renamed_from,
        changes=service.tool_diff(t),
        changed_at=t.changed_at,
        approved_at=t.approved_at,
        approved_by=t.approved_by,
        calls=t.calls,
    )


def server_out(m: McpServer, tools: list[McpTool], *, detail: bool = False) -> ServerOut:
    """A server row as the API shows it (with its tools when detail)."""
    counts: dict[str, int] = {}
    for t in tools:
        counts[t.state] = counts.get(t.state, 0) + 1
    auth: dict[str, Any] = {"type": m.auth_type, "secret": "set" if m.credential_id else None}
    if m.auth_header:
        auth["header"] = m.auth_header
    if m.auth_type == "oauth":
        auth["authorized"] = m.health != "needs_auth"
        if m.health == "needs_auth":
            auth["authorize"] = f"POST /api/mcp-servers/{m.id}/oauth/start"
    return ServerOut(
        id=m.id,
        name=m.name,
        url=m.url,
        transport=m.transport,
        resolved_transport=m.resolved_transport,
        auth=auth,
        health=m.health,
        last_error=m.last_error,
        failures=m.failures,
        refresh_interval_s=m.refresh_interval_s,
        last_refresh_at=m.last_refresh_at,
        last_success_at=m.last_success_at,
        next_refresh_at=m.next_refresh_at,
        protocol=(m.server_info or {}).get("protocol"),
        calls=m.calls,
        tool_counts=counts,
        pending_changes=counts.get("pending", 0) + counts.get("held", 0),
        created_at=m.created_at,
        tools=[tool_out(t) for t in tools] if detail else None,
    )
