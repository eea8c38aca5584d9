"""Webhook endpoints (one per connection) and the events they received (the delivery queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, TimestampMixin, UTCDateTime, id_column, utcnow

# received: stored, waiting for delivery (or for its next attempt); delivering: claimed by a
# worker until lease_until; delivered: the handler accepted it (or the hub's own handler when
# the provider has none); dead: gave up after the attempt limit, waits for a replay.
EventStatus = Literal["received", "delivering", "delivered", "dead"]
EVENT_STATUSES: tuple[str, ...] = get_args(EventStatus)


class WebhookEndpoint(TimestampMixin, Base):
    """Where one connection's vendor sends events: an unguessable id in the URL."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = id_column("whk")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
    )
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    # None: the integration's scheme from the registry; else a scheme name (hub.webhooks.schemes).
    scheme: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A webhook_secret credential in the vault (signing secret, Meta's verify token), when the
    # connection's own credential fields do not hold the key.
    secret_credential_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    refused_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_refusal: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WebhookEvent(Base):
    """A verified inbound event: stored before it is acknowledged, then delivered from here."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        # The vendor's event id deduplicates: a redelivery hits this and is acknowledged only.
        UniqueConstraint("endpoint_id", "dedupe_key"),
        Index("ix_webhook_events_tenant_received", "tenant_id", "received_at"),
        Index("ix_webhook_events_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = id_column("evt")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(200), nullable=False)
    event_type: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    content_type: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    # The raw bytes as verified: the payload is parsed from them, never re-serialised first.
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="received", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    replays: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
