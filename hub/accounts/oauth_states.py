"""Authorization states (SECURITY 15): random, single use, expiring within 10 minutes, bound
to the tenant, the user, the integration, the PKCE verifier and the redirect URI.

Only a hash of the state is stored; the raw state travels in the authorize URL."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.accounts.models import OAuthState
from hub.core.errors import HubError
from hub.db.base import rowcount, utcnow

STATE_TTL = timedelta(minutes=10)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_state(
    s: Session,
    *,
    tenant_id: str,
    user_id: str | None,
    actor: str,
    integration: str,
    verifier: str,
    redirect_uri: str,
    connected_via: str,
) -> str:
    """Store a new state; returns the raw value (never stored)."""
    raw = secrets.token_urlsafe(32)
    s.add(
        OAuthState(
            state_hash=_hash(raw),
            tenant_id=tenant_id,
            user_id=user_id,
            actor=actor,
            integration_slug=integration,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            connected_via=connected_via,
            expires_at=utcnow() + STATE_TTL,
        )
    )
    s.flush()
    return raw


def consume_state(s: Session, raw: str | None) -> OAuthState:
    """Use a state once; a missing, unknown, reused or expired one is refused."""
    if not raw:
        raise HubError(
            "invalid_request",
            "The OAuth callback has no state: start the connection again from the hub.",
            details={"field": "state"},
        )
    h = _hash(raw)
    now = utcnow()
    # One atomic UPDATE decides, so two callbacks with one state cannot both win.
    res = s.execute(
        update(OAuthState)
        .where(
            OAuthState.state_hash == h,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(used_at=now)
    )
    row = s.scalar(select(OAuthState).where(OAuthState.state_hash == h))
    if rowcount(res) == 1 and row is not None:
        return row
    if row is None:
        why = "is unknown (it was not issued by this hub)"
    elif row.used_at is not None and row.used_at != now:
        why = "was already used"
    else:
        why = "has expired (states are valid 10 minutes)"
    raise HubError(
        "invalid_request",
        f"The OAuth callback's state {why}: start the connection again from the hub.",
        details={"field": "state"},
    )


def purge_states(s: Session, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete states that expired more than `older_than` ago."""
    res = s.execute(delete(OAuthState).where(OAuthState.expires_at < utcnow() - older_than))
    return rowcount(res)
