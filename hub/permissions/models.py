"""The authorization queue and the narrow overrides an "Allow Always" records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, TimestampMixin, UTCDateTime, id_column

# pending: waiting for a human; authorized: approved (used_at/run_id once executed);
# denied: refused with the human's note; expired: nobody decided in time.
AUTHORIZATION_STATUSES = ("pending", "authorized", "denied", "expired")


class Authorization(TimestampMixin, Base):
    """One call queued for a human, bound to tenant, agent token, tool and arguments hash."""

    __tablename__ = "authorizations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_authorizations_tenant_status", "tenant_id", "status", "created_at"),
        Index("ix_authorizations_call", "tenant_id", "token_id", "args_hash"),
    )

    id: Mapped[str] = id_column("aut")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    # The agent token that asked: only it can consume an approval (and see the request).
    token_id: Mapped[str] = mapped_column(String(40), nullable=False)
    caller: Mapped[str] = mapped_column(String(80), nullable=False)
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The exact call, kept to run it on approval (tools with secret fields are never queued).
    args: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    args_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    reasoning: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Why a human must look (the policy's explanation) and which rules said so.
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    rules: Mapped[list[str]] = mapped_column(JSONType, default=list, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    upgrade_permission: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    override_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Set in the same transaction that writes the run: an approval runs at most once.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The outcome when it is not a run's (a refusal at execution time, a hub-native action).
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class PermissionOverride(TimestampMixin, Base):
    """An Allow Always: lowers the level of calls its terms cover, for one tenant and tool."""

    __tablename__ = "permission_overrides"
    __table_args__ = (Index("ix_permission_overrides_tenant_tool", "tenant_id", "tool"),)

    id: Mapped[str] = id_column("pov")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # {provider, rules, same, at_most, absent, max_items}: see policy.Policy.override_terms.
    terms: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    authorization_id: Mapped[str] = mapped_column(String(40), nullable=False)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
