"""Console sessions: a random cookie bound to one user, stored hashed, expiring.

The cookie holds 256 random bits; the database keeps only their SHA-256 (so a copy of the
table signs nobody in), the user, the tenant, a per-session CSRF secret and three times.
Each request re-reads the user, so deactivating a user or changing a role takes effect at
once. Sessions end at sign-out, after IDLE without a request, and at most LIFETIME after
sign-in. The cookie itself (names, flags) is the console's business (hub.web.session).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hub.accounts.models import ConsoleSession, Tenant, User
from hub.core.callers import Caller, ConsoleIdentity
from hub.db.base import utcnow

LIFETIME = timedelta(hours=12)
IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often

# owner/admin act as admin tokens do; ops and member read.
ROLE_KINDS = {"owner": "admin", "admin": "admin", "ops": "ops", "member": "member"}


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start(s: Session, user: User) -> str:
    """Open a session for a user who just proved their password; returns the cookie value."""
    now = utcnow()
    # Housekeeping: this user's ended sessions go now (others at their own next sign-in).
    s.execute(
        delete(ConsoleSession).where(
            ConsoleSession.user_id == user.id, ConsoleSession.expires_at <= now
        )
    )
    raw = secrets.token_urlsafe(32)
    s.add(
        ConsoleSession(
            id=_hash(raw),
            user_id=user.id,
            tenant_id=user.tenant_id,
            csrf_secret=secrets.token_hex(32),
            created_at=now,
            expires_at=now + LIFETIME,
            last_seen_at=now,
        )
    )
    s.flush()
    return raw


def load(s: Session, raw: str | None) -> Caller | None:
    """The caller a session cookie stands for, or None (unknown, ended or user gone)."""
    if not raw or len(raw) > 100:
        return None
    row = s.get(ConsoleSession, _hash(raw))
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now or now - row.last_seen_at > IDLE:
        s.delete(row)
        return None
    user = s.get(User, row.user_id)
    if user is None or not user.is_active or user.tenant_id != row.tenant_id:
        s.delete(row)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    tenant = s.get(Tenant, row.tenant_id)
    return Caller(
        tenant_id=row.tenant_id,
        kind=ROLE_KINDS.get(user.role, "member"),
        user_id=user.id,
        name=user.email,
        console=ConsoleIdentity(
            session_id=row.id,
            csrf_secret=row.csrf_secret,
            email=user.email,
            role=user.role,
            tenant_name=tenant.name if tenant else "",
        ),
    )


def end(s: Session, session_id: str) -> None:
    """Sign out: the session row goes, so the cookie is worthless even if kept."""
    s.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))
