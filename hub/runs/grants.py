"""Single-use credential grants: minted per run, redeemed once by the workflow at the edge."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.core.errors import HubError
from hub.db.base import new_id, rowcount, table_of, utcnow
from hub.runs.models import Grant

GRANT_TTL = timedelta(seconds=60)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


_grants = table_of(Grant)
_INSERT = _grants.insert()
_CLOSE = (
    _grants.update()
    .where(
        _grants.c.token_hash == bindparam("hash_"),
        _grants.c.used_at.is_(None),
    )
    .values(expires_at=bindparam("now"))
)


def mint(s: Session, tenant_id: str, run_id: str, connection_id: str) -> str:
    """Create a grant for one run and connection; returns the raw grant (never stored)."""
    raw = "gr_" + secrets.token_urlsafe(32)
    # A Core insert: the call path writes one per call, and the run may be a Core row too.
    s.connection().execute(
        _INSERT,
        {
            "id": new_id("gr"),
            "token_hash": _hash(raw),
            "tenant_id": tenant_id,
            "run_id": run_id,
            "connection_id": connection_id,
            "expires_at": utcnow() + GRANT_TTL,
        },
    )
    return raw


def close(s: Session, raw: str, now: datetime) -> int:
    """End an unredeemed grant now (its run is over); returns 0 when it had been redeemed."""
    res = s.connection().execute(_CLOSE, {"hash_": _hash(raw), "now": now})
    return rowcount(res)


def redeem(s: Session, raw: str, *, run_id: str | None, ip: str | None) -> Grant:
    """Use a grant once. Replays, expired grants and mismatched runs are refused and audited.

    A refusal raises after adding its audit row: the caller commits that row anyway.
    """
    h = _hash(raw)
    now = utcnow()
    # One atomic UPDATE decides: concurrent redeemers cannot both win.
    res = s.execute(
        update(Grant)
        .where(Grant.token_hash == h, Grant.used_at.is_(None), Grant.expires_at > now)
        .values(used_at=now)
    )
    g = s.scalar(select(Grant).where(Grant.token_hash == h))
    won = rowcount(res) == 1
    if won and g is not None and (run_id is None or run_id == g.run_id):
        return g
    if g is None:
        raise HubError("unauthenticated", "Unknown credential grant.")
    reason = (
        "replayed"
        if g.used_at is not None and not won
        else "expired"
        if g.expires_at <= now
        else "run_mismatch"
    )
    record(
        s,
        g.tenant_id,
        "edge",
        "grant.refused",
        target=g.id,
        run_id=g.run_id,
        success=False,
        error_message=reason,
        ip_address=ip,
    )
    raise HubError(
        "forbidden",
        f"Credential grant refused: {reason.replace('_', ' ')}. "
        "Grants are single-use, valid 60 s, for one run only.",
    )


def purge_expired(s: Session, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete grants that expired more than `older_than` ago."""
    res = s.execute(delete(Grant).where(Grant.expires_at < utcnow() - older_than))
    return rowcount(res)
