"""Connection health (seed 000): connected, warning, error, not connected, planned.

Every transition is recorded (connection_events). Entering error opens an incident: one
in-app notification for the tenant's owners and admins, whose owner email is sent later
through the spine (hub.runs.alerts) and marked on the notification: once per incident."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.connections.models import Connection, ConnectionEvent, Notification
from hub.db.base import rowcount, utcnow

# Not-connected and planned are what the catalog shows for integrations without a row.
HEALTH = ("connected", "warning", "error", "disconnected", "pending_setup")


def set_status(
    s: Session, conn: Connection, status: str, *, reason: str | None, kind: str | None
) -> bool:
    """Move a connection to `status`, recording the transition; True when it changed."""
    now = utcnow()
    if reason is not None and status in ("warning", "error"):
        conn.last_error, conn.last_error_kind, conn.last_error_at = reason, kind, now
    if status == conn.status:
        return False
    before = conn.status
    conn.status = status
    conn.status_changed_at = now
    s.add(
        ConnectionEvent(
            tenant_id=conn.tenant_id,
            connection_id=conn.id,
            integration_slug=conn.integration_slug,
            from_status=before,
            to_status=status,
            reason=reason,
            kind=kind,
            created_at=now,
        )
    )
    if status == "error":
        _open_incident(s, conn, reason)
    return True


def _open_incident(s: Session, conn: Connection, reason: str | None) -> None:
    label = conn.account_label or conn.integration_slug
    s.add(
        Notification(
            tenant_id=conn.tenant_id,
            connection_id=conn.id,
            integration_slug=conn.integration_slug,
            kind="connection_error",
            title=f"{label} needs attention: the connection stopped working",
            body=(
                f"Calls to {conn.integration_slug} are paused, not lost. Reason: "
                f"{reason or 'the vendor refused the credentials'}. Reconnect or update the "
                "credentials, then Save & Test: paused calls resume in order."
            ),
            email_status="pending",
        )
    )


def history(s: Session, tenant_id: str, connection_id: str) -> list[ConnectionEvent]:
    """A connection's transitions, oldest first."""
    q = select(ConnectionEvent).where(
        ConnectionEvent.tenant_id == tenant_id, ConnectionEvent.connection_id == connection_id
    )
    return list(s.scalars(q.order_by(ConnectionEvent.created_at, ConnectionEvent.id)))


def notifications(s: Session, tenant_id: str, *, unread_only: bool = False) -> list[Notification]:
    """A tenant's notifications, newest first."""
    q = select(Notification).where(Notification.tenant_id == tenant_id)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    return list(s.scalars(q.order_by(Notification.created_at.desc()).limit(200)))


def mark_read(s: Session, tenant_id: str, notification_id: str, actor: str) -> bool:
    """Mark one notification read; False when it is not this tenant's or already read."""
    res = s.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.tenant_id == tenant_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow(), read_by=actor)
    )
    return rowcount(res) == 1


def pending_emails(s: Session, limit: int = 20) -> list[Notification]:
    """Notifications whose owner email has not been attempted yet."""
    q = select(Notification).where(Notification.email_status == "pending")
    return list(s.scalars(q.order_by(Notification.created_at).limit(limit)))


def claim_email(s: Session, notification_id: str) -> bool:
    """Take a pending email for sending (atomic: one sender per notification)."""
    res = s.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.email_status == "pending")
        .values(email_status="sending")
    )
    return rowcount(res) == 1


def finish_email(s: Session, notification_id: str, status: str) -> None:
    """Record what became of a notification's email."""
    s.execute(
        update(Notification).where(Notification.id == notification_id).values(email_status=status)
    )
