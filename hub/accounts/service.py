"""Tenants, users and tokens: creation, lookup, revocation. No HTTP here."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hub.accounts.models import TOKEN_KINDS, USER_ROLES, ApiToken, Tenant, User
from hub.core import caches
from hub.core.callers import Caller
from hub.core.errors import HubError, not_found
from hub.db.base import table_of, utcnow

_hasher = PasswordHasher()  # argon2id with the library's current defaults
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# last_used_at is written at most this often per token, to keep the hot path read-only.
LAST_USED_GRANULARITY = timedelta(seconds=60)
# A resolved token is trusted this long without a database read. Revocation in this process
# takes effect at once; from another process (the CLI) within this many seconds.
TOKEN_CACHE_S = 2.0
_token_cache: dict[str, tuple[Caller, float]] = {}
_token_cache_lock = threading.Lock()
caches.register(_token_cache.clear)


def hash_token(raw: str) -> str:
    """SHA-256 hex of a token (tokens carry 256 bits of randomness, so no KDF is needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_tenant(s: Session, slug: str, name: str | None = None) -> Tenant:
    """Create a tenant; the slug is lowercase letters, digits and dashes."""
    if not SLUG_RE.match(slug):
        raise HubError(
            "invalid_request",
            "Tenant slug is invalid: use 2-63 lowercase letters, digits and dashes.",
            details={"field": "slug"},
        )
    if s.scalar(select(Tenant).where(Tenant.slug == slug)):
        raise HubError("conflict", "A tenant with that slug already exists.")
    t = Tenant(slug=slug, name=name or slug, settings={})
    s.add(t)
    s.flush()
    return t


def get_tenant(s: Session, ref: str) -> Tenant:
    """A tenant by id or slug."""
    t = s.get(Tenant, ref) or s.scalar(select(Tenant).where(Tenant.slug == ref))
    if t is None:
        raise HubError(
            "not_found", "No tenant with that id or slug. List them with `hub tenants list`."
        )
    return t


def list_tenants(s: Session) -> list[Tenant]:
    """Every tenant, oldest first."""
    return list(s.scalars(select(Tenant).order_by(Tenant.created_at)))


# Read on the call path when a tool has several usable providers: a prebuilt statement.
_tenants = table_of(Tenant)
_TENANT_SETTINGS = select(_tenants.c.settings).where(_tenants.c.id == bindparam("tenant_id"))


def tenant_settings(s: Session, tenant_id: str) -> dict[str, Any]:
    """A tenant's settings (policy knobs, default providers); {} for an unknown tenant."""
    value = s.connection().scalar(_TENANT_SETTINGS, {"tenant_id": tenant_id})
    return dict(value or {})


def tenant_slug(s: Session, tenant_id: str) -> str:
    """A tenant's slug ('' when it no longer exists)."""
    t = s.get(Tenant, tenant_id)
    return t.slug if t else ""


def create_user(
    s: Session, tenant_id: str, email: str, password: str, role: str = "member", name: str = ""
) -> User:
    """Create a console user with an argon2id password hash."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise HubError(
            "invalid_request", "That is not an email address.", details={"field": "email"}
        )
    if role not in USER_ROLES:
        raise HubError(
            "invalid_request",
            f"Role must be one of {', '.join(USER_ROLES)}.",
            details={"field": "role"},
        )
    u = User(tenant_id=tenant_id, email=email, role=role, name=name)
    set_password(u, password)
    exists = s.scalar(select(User).where(User.tenant_id == tenant_id, User.email == email))
    if exists:
        raise HubError("conflict", "A user with that email already exists in this tenant.")
    s.add(u)
    s.flush()
    return u


def set_password(user: User, password: str) -> None:
    """Replace a user's password (same rules as at creation)."""
    if len(password) < 12:
        raise HubError(
            "invalid_request",
            "Password must be at least 12 characters.",
            details={"field": "password"},
        )
    user.password_hash = _hasher.hash(password)


def authenticate_user(s: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (constant work either way)."""
    email = email.strip().lower()
    users = list(s.scalars(select(User).where(User.email == email, User.is_active.is_(True))))
    ok: User | None = None
    for u in users:
        try:
            if _hasher.verify(u.password_hash, password):
                ok = u
        except (VerificationError, InvalidHashError):
            continue
    if not users:
        # Spend the same time as a real check so unknown emails are not distinguishable.
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
    if ok is not None:
        if _hasher.check_needs_rehash(ok.password_hash):
            ok.password_hash = _hasher.hash(password)
        ok.last_login_at = utcnow()
    return ok


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown emails (made on first use: it costs 0.2 s)."""
    return _hasher.hash("dummy-password-for-timing")


def find_user(s: Session, tenant_id: str, email: str) -> User | None:
    """A tenant's user by email, if any."""
    email = email.strip().lower()
    return s.scalar(select(User).where(User.tenant_id == tenant_id, User.email == email))


def owner_email(s: Session, tenant_id: str) -> str | None:
    """The email of the tenant's first owner (whom alerts are mailed to), if any."""
    q = (
        select(User.email)
        .where(User.tenant_id == tenant_id, User.role == "owner")
        .order_by(User.created_at)
    )
    return s.scalars(q).first()


def emails_of(s: Session, tenant_id: str, user_ids: list[str]) -> dict[str, str]:
    """user id -> email, for users of one tenant (to show people instead of ids)."""
    if not user_ids:
        return {}
    q = select(User.id, User.email).where(User.tenant_id == tenant_id, User.id.in_(user_ids))
    return {uid: email for uid, email in s.execute(q)}


def create_token(
    s: Session,
    tenant_id: str,
    kind: str,
    name: str = "",
    created_by: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Mint a token; returns the row and the raw token (the only time it exists)."""
    if kind not in TOKEN_KINDS:
        raise HubError(
            "invalid_request",
            f"Token kind must be one of {', '.join(TOKEN_KINDS)}.",
            details={"field": "kind"},
        )
    now = utcnow()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)  # a bare time is taken as UTC
        if expires_at <= now:
            raise HubError(
                "invalid_request",
                "expires_at must be in the future (an expired token could never be used).",
                details={"field": "expires_at"},
            )
    raw = f"hub_{kind}_{secrets.token_urlsafe(32)}"
    tok = ApiToken(
        tenant_id=tenant_id,
        kind=kind,
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[: len(f"hub_{kind}_") + 4],
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    s.add(tok)
    s.flush()
    return tok, raw


def list_tokens(s: Session, tenant_id: str) -> list[ApiToken]:
    """A tenant's tokens (hashes never leave this module)."""
    q = select(ApiToken).where(ApiToken.tenant_id == tenant_id).order_by(ApiToken.created_at)
    return list(s.scalars(q))


def revoke_token(s: Session, token_id: str, tenant_id: str | None = None) -> ApiToken:
    """Revoke a token by id (optionally only within a tenant)."""
    tok = s.get(ApiToken, token_id)
    if tok is None or (tenant_id and tok.tenant_id != tenant_id):
        raise not_found("token")
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
    with _token_cache_lock:
        _token_cache.pop(tok.token_hash, None)
    return tok


def caller_for_token(s: Session, token_id: str) -> Caller:
    """The caller a token id stands for now; refused when it was revoked or has expired."""
    tok = s.get(ApiToken, token_id)
    now = utcnow()
    if tok is None or tok.revoked_at is not None or (tok.expires_at and tok.expires_at <= now):
        raise HubError(
            "forbidden",
            "The agent token that queued this call was revoked or expired, so it is not "
            "run on its behalf; nothing was sent.",
        )
    return Caller(tenant_id=tok.tenant_id, kind=tok.kind, token_id=tok.id, name=tok.name)


def cached_caller(raw: str) -> Caller | None:
    """The caller of a token resolved less than TOKEN_CACHE_S ago, if any."""
    hit = _token_cache.get(hash_token(raw))
    if hit is not None and time.monotonic() - hit[1] < TOKEN_CACHE_S:
        return hit[0]
    return None


def resolve_token(s: Session, raw: str) -> tuple[Caller, bool]:
    """The caller a raw token stands for, and whether its first use in a while was recorded.

    Refuses unknown, revoked and expired tokens with the same message, so a caller cannot
    tell which tokens ever existed.
    """
    tok = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    now = utcnow()
    if tok is None or tok.revoked_at is not None or (tok.expires_at and tok.expires_at <= now):
        raise HubError(
            "unauthenticated",
            "The bearer token is missing, unknown, revoked or expired. "
            "Create one with `hub tokens create --tenant T --kind agent`.",
        )
    touched = False
    if tok.last_used_at is None or now - tok.last_used_at >= LAST_USED_GRANULARITY:
        tok.last_used_at = now
        touched = True
    caller = Caller(tenant_id=tok.tenant_id, kind=tok.kind, token_id=tok.id, name=tok.name)
    if tok.expires_at is None or tok.expires_at - now > timedelta(seconds=TOKEN_CACHE_S):
        with _token_cache_lock:
            if len(_token_cache) > 10_000:
                _token_cache.clear()
            _token_cache[tok.token_hash] = (caller, time.monotonic())
    return caller, touched
