"""Connections: one tenant's account at one integration, and its health."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, TimestampMixin, UTCDateTime, id_column

CONNECTION_STATUSES = ("connected", "warning", "error", "disconnected", "pending_setup")
CONNECTED_VIA = ("ui", "api", "cli", "assistant", "auto_suggestion", "demo")


class Connection(TimestampMixin, Base):
    """A tenant x integration link; secret fields live in the vault, the rest in config."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id", "integration_slug"),)

    id: Mapped[str] = id_column("con")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
    )
    integration_slug: Mapped[str] = mapped_column(
        ForeignKey("integrations.slug", ondelete="RESTRICT"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), default="connected", nullable=False)
    account_label: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    connected_via: Mapped[str] = mapped_column(String(20), default="api", nullable=False)
    # Non-secret credential fields (e.g. Twilio account SID) and options.
    config: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    # Vendor API base URL override (a sandbox in tests and demos); None = the vendor's own.
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    times_used_by_agent: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_agent_use_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
