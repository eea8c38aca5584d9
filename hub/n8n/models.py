"""What the hub knows of its n8n: the instance's access and each deployed workflow version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, TimestampMixin, UTCDateTime, id_column, utcnow

SYSTEM_TENANT = "system"  # vault tenant id for the hub's own secrets (n8n key, webhook secret)


class N8nInstance(TimestampMixin, Base):
    """The n8n the hub deploys to; its secrets are vault credential ids, never values."""

    __tablename__ = "n8n_instances"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default="default")
    base_url: Mapped[str] = mapped_column(String(500), nullable=False)
    api_key_credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    owner_credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    webhook_secret_credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # n8n's id of the header-auth credential every hub webhook requires.
    webhook_auth_n8n_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WorkflowDeployment(Base):
    """One workflow version as deployed to n8n: the checksum lets the hub see drift."""

    __tablename__ = "workflow_deployments"
    __table_args__ = (UniqueConstraint("integration", "tool", "version"),)

    id: Mapped[str] = id_column("wfd")
    integration: Mapped[str] = mapped_column(String(64), nullable=False)
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    n8n_id: Mapped[str] = mapped_column(String(64), nullable=False)
    webhook_path: Mapped[str] = mapped_column(String(200), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    deployed_by: Mapped[str] = mapped_column(String(80), default="cli", nullable=False)
