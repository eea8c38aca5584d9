"""Registry tables: integrations, tools, tool domains and tool -> integration bindings.

The catalog is global (no tenant_id): tenancy lives in connections. Rows come from the seed
files (source 'seed') or are added at runtime (remote MCP servers, custom integrations).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db.base import Base, JSONType, TimestampMixin, id_column

SOURCES = ("seed", "remote_mcp", "custom")
_SOURCE_CHECK = "source IN ('seed', 'remote_mcp', 'custom')"


class Integration(TimestampMixin, Base):
    """A vendor integration (Twilio, Stripe, ...) and its full validated definition."""

    __tablename__ = "integrations"
    __table_args__ = (CheckConstraint(_SOURCE_CHECK, name="source"),)

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    category: Mapped[str] = mapped_column(String(32), index=True, nullable=False)
    auth_type: Mapped[str] = mapped_column(String(32), nullable=False)
    # available | beta | planned | coming_soon | deprecated (seed rows gone from the files
    # become deprecated; the definition keeps what the file last said).
    status: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    # SHA-256 of the canonical definition: unchanged entries are not rewritten on sync.
    catalog_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), default="seed", nullable=False)


class ToolDomain(TimestampMixin, Base):
    """A tool domain (messaging, payments, ...) with the description capabilities show."""

    __tablename__ = "tool_domains"
    __table_args__ = (CheckConstraint(_SOURCE_CHECK, name="source"),)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    catalog_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), default="seed", nullable=False)


class Tool(TimestampMixin, Base):
    """An MCP tool (send_sms, charge_card, ...): schemas, permission and definition."""

    __tablename__ = "tools"
    __table_args__ = (CheckConstraint(_SOURCE_CHECK, name="source"),)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    permission: Mapped[str] = mapped_column(String(32), nullable=False)
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    output_schema: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    # active | deprecated (a seed tool removed from the files is kept, not deleted, so its
    # runs and bindings stay explainable; deprecated tools are not offered to agents).
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    catalog_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), default="seed", nullable=False)

    providers: Mapped[list[ToolProvider]] = relationship(
        back_populates="tool", cascade="all, delete-orphan", passive_deletes=True
    )


class ToolProvider(TimestampMixin, Base):
    """Binds a tool to an integration's workflow; live_version is the deployed version."""

    __tablename__ = "tool_providers"
    __table_args__ = (UniqueConstraint("tool_name", "integration_slug"),)

    id: Mapped[str] = id_column("tpr")
    tool_name: Mapped[str] = mapped_column(
        ForeignKey("tools.name", ondelete="CASCADE"), nullable=False
    )
    integration_slug: Mapped[str] = mapped_column(
        ForeignKey("integrations.slug", ondelete="CASCADE"), index=True, nullable=False
    )
    workflow: Mapped[str] = mapped_column(String(200), nullable=False)  # "twilio/send_sms"
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The workflow version the binding points at; set by deploy, never by catalog sync.
    live_version: Mapped[int | None] = mapped_column(Integer, nullable=True)

    tool: Mapped[Tool] = relationship(back_populates="providers")
