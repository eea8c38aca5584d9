"""Console sessions: a random cookie bound to one user, stored hashed, expiring.

The cookie holds 256 random bits; the database keeps only their SHA-256 (so a copy of the
table signs nobody in), the user, the tenant, a per-session CSRF secret and three times.
Each request re-reads the user, so deactivating a user or changing a role takes effect at
once. Sessions end at sign-out, after IDLE without a request, and at most LIFETIME after
sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from hub.accounts.models import Tenant, User
from hub.accounts.service import Caller
from hub.db.base import utcnow
from hub.web import csrf
from hub.web.models import ConsoleSession

LIFETIME = timedelta(hours=12)
IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often
LOGIN_COOKIE_TTL = 3600

# owner/admin act as admin tokens do; ops and member read.
ROLE_KINDS = {"owner": "admin", "admin": "admin", "ops": "ops", "member": "member"}
DECIDERS = ("owner", "admin")
AUDIT_READERS = ("owner", "admin", "ops")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def is_secure(request: Request) -> bool:
    """Cookies are Secure when the hub's public URL (or this request) is https."""
    settings = request.app.state.settings
    public = getattr(settings, "public_url", None) or ""
    return public.lower().startswith("https://") or request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    """`__Host-` prefixed on https: the browser then refuses it from any subdomain or path."""
    return "__Host-hub_session" if is_secure(request) else "hub_session"


def login_cookie_name(request: Request) -> str:
    """The pre-session cookie keying the sign-in form's CSRF token."""
    return "__Host-hub_login" if is_secure(request) else "hub_login"


@dataclass(frozen=True)
class Console:
    """The signed-in user of one request."""

    session_id: str
    csrf_secret: str
    user_id: str
    email: str
    name: str
    role: str
    tenant_id: str
    tenant_name: str

    @property
    def caller(self) -> Caller:
        """The caller service functions see (actor 'user:usr_...')."""
        return Caller(
            tenant_id=self.tenant_id,
            kind=ROLE_KINDS.get(self.role, "member"),
            user_id=self.user_id,
            name=self.email,
        )

    @property
    def can_decide(self) -> bool:
        """Owners and admins decide authorizations."""
        return self.role in DECIDERS

    @property
    def can_manage(self) -> bool:
        """Owners and admins connect and disconnect integrations."""
        return self.role in DECIDERS

    @property
    def can_read_audit(self) -> bool:
        """The audit log is for owners, admins and ops (as over REST)."""
        return self.role in AUDIT_READERS

    def csrf_token(self) -> str:
        """A fresh synchronizer token for one form."""
        return csrf.form_token(self.csrf_secret)


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
            csrf_secret=csrf.new_secret(),
            created_at=now,
            expires_at=now + LIFETIME,
            last_seen_at=now,
        )
    )
    s.flush()
    return raw


def load(s: Session, raw: str | None) -> Console | None:
    """The live session a cookie value stands for, or None (unknown, ended or user gone)."""
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
    return Console(
        session_id=row.id,
        csrf_secret=row.csrf_secret,
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        tenant_id=row.tenant_id,
        tenant_name=tenant.name if tenant else "",
    )


def end(s: Session, session_id: str) -> None:
    """Sign out: the session row goes, so the cookie is worthless even if kept."""
    s.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


def set_cookie(request: Request, response: Response, raw: str) -> None:
    """Hand the browser its session cookie: HttpOnly, SameSite=Lax, Secure on https."""
    response.set_cookie(
        cookie_name(request),
        raw,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


def clear_cookie(request: Request, response: Response) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        cookie_name(request), path="/", httponly=True, samesite="lax", secure=is_secure(request)
    )


def raw_cookie(request: Request) -> str | None:
    """The session cookie value the browser sent, if any."""
    return request.cookies.get(cookie_name(request))


def names_of_actors(s: Session, tenant_id: str, actors: set[str]) -> dict[str, Any]:
    """Readable names for audit actors ('user:usr_..' -> email) of one tenant."""
    ids = [a.removeprefix("user:") for a in actors if a.startswith("user:")]
    if not ids:
        return {}
    q = select(User.id, User.email).where(User.tenant_id == tenant_id, User.id.in_(ids))
    return {f"user:{uid}": email for uid, email in s.execute(q)}
