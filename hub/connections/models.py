"""Connections: one tenant's account at one integration, and its health."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, TimestampMixin, UTCDateTime, id_column, utcnow

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
    # OAuth: when the stored access token expires (not secret; the refresh job selects on it).
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # OAuth: whose app issued the tokens, "tenant" or "instance" (None: instance, as every
    # connection made before tenants had apps). Refresh and revocation must use that client.
    oauth_app: Mapped[str | None] = mapped_column(String(16), nullable=True)


class OAuthApp(TimestampMixin, Base):
    """An operator's OAuth app at one provider: client id here, client secret in the vault.

    The endpoint overrides point a provider at another authorization server (a Microsoft
    tenant's own endpoints, or the sandbox's); None means the registry's.
    """

    __tablename__ = "oauth_apps"

    integration_slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(300), nullable=False)
    credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    authorize_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    token_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    revoke_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class TenantOAuthApp(TimestampMixin, Base):
    """A tenant's own OAuth app at one provider, registered by its owner or an admin in the
    console; it overrides the instance's client for that tenant only. Client id here, secret
    in the vault under the tenant. No endpoint overrides of its own: it talks to the
    endpoints the operator set (the instance app's) or the registry's, so no tenant can point
    the hub's token requests anywhere else."""

    __tablename__ = "oauth_tenant_apps"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    integration_slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(300), nullable=False)
    credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class ConnectLink(Base):
    """A link an agent hands its user to connect an OAuth integration (initiate_integration).

    It grants nothing by itself: an owner or admin must be signed in to use it. It is single
    use and expires, so a link left in a chat log cannot start a connection later. Only its
    hash is stored."""

    __tablename__ = "connect_links"

    id: Mapped[str] = id_column("cln")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
    )
    integration_slug: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class ConnectionEvent(Base):
    """One health transition of a connection (kept after the connection is removed)."""

    __tablename__ = "connection_events"

    id: Mapped[str] = id_column("cev")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
    )
    connection_id: Mapped[str] = mapped_column(String(40), index=True, nullable=False)
    integration_slug: Mapped[str] = mapped_column(String(64), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Notification(Base):
    """An in-app alert for a tenant's owners and admins (a connection entered error...)."""

    __tablename__ = "notifications"

    id: Mapped[str] = id_column("ntf")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
    )
    connection_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    integration_slug: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # What became of the owner's email: sent, failed, no_email_integration, no_owner_email.
    email_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    read_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
