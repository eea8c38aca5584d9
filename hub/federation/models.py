"""Remote MCP servers of a tenant and the tools discovered on them (pinned by hash)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, TimestampMixin, UTCDateTime, id_column

TRANSPORTS = ("auto", "streamable_http", "sse")
AUTH_TYPES = ("none", "bearer", "header", "oauth")
# pending: registered, never refreshed; connected: the last refresh worked; warning: the
# last one(s) failed; error: failing for a while, its tools are not offered; needs_auth: an
# OAuth server without a usable grant (never consented, or revoked): waits for an admin.
HEALTH = ("pending", "connected", "warning", "error", "needs_auth")
# pending: new, awaiting an admin; approved: offered to agents; held: changed since its
# approval, not offered until re-approved; rejected: never offered; removed: gone remotely.
TOOL_STATES = ("pending", "approved", "held", "rejected", "removed")


class McpServer(TimestampMixin, Base):
    """A remote MCP server registered by a tenant's admin; its secret is a vault id."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = id_column("mcs")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
    )
    # A slug: the namespace of its tools (<name>__<tool>).
    name: Mapped[str] = mapped_column(String(24), nullable=False)
    url: Mapped[str] = mapped_column(String(1000), nullable=False)
    transport: Mapped[str] = mapped_column(String(16), default="auto", nullable=False)
    # What auto found to work (streamable_http or sse), once a refresh succeeded.
    resolved_transport: Mapped[str | None] = mapped_column(String(16), nullable=True)
    auth_type: Mapped[str] = mapped_column(String(8), default="none", nullable=False)
    # The header a `header` credential goes in (the value is in the vault).
    auth_header: Mapped[str | None] = mapped_column(String(100), nullable=True)
    credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    health: Mapped[str] = mapped_column(String(10), default="pending", nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    refresh_interval_s: Mapped[int] = mapped_column(Integer, default=3600, nullable=False)
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    server_info: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    calls: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class McpTool(TimestampMixin, Base):
    """One tool of a remote server: what it says now, what an admin approved, its state."""

    __tablename__ = "mcp_tools"
    __table_args__ = (UniqueConstraint("server_id", "name"),)

    id: Mapped[str] = id_column("mct")
    server_id: Mapped[str] = mapped_column(
        ForeignKey("mcp_servers.id", ondelete="CASCADE"), index=True, nullable=False
    )
    tenant_id: Mapped[str] = mapped_column(String(40), index=True, nullable=False)
    # The remote name, and the name agents see (<server>__<tool>, a valid MCP name).
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    exposed_name: Mapped[str] = mapped_column(String(64), nullable=False)
    # The definition as last listed: title, description, schemas, annotations.
    definition: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(10), default="pending", nullable=False)
    proposed_permission: Mapped[str] = mapped_column(String(24), nullable=False)
    permission: Mapped[str | None] = mapped_column(String(24), nullable=True)
    # What the admin approved (definition and hash): the pin, and the left side of a diff.
    approved_definition: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    approved_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A tool that vanished while this one appeared with the same schemas.
    renamed_from: Mapped[str | None] = mapped_column(String(200), nullable=True)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    calls: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
