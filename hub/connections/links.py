"""Connect links (issue 10 item 2): what an agent's `initiate_integration` hands its user for
an OAuth integration. The link grants nothing: an owner or admin of the same tenant must be
signed in to the console to follow it. It works once and expires, so a link that lingers in a
chat transcript cannot start a connection later. Only a hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.connections.models import ConnectLink
from hub.core.errors import HubError
from hub.db.base import rowcount, utcnow

# Long enough for an office manager to read the chat after lunch; short enough to go stale.
LINK_TTL = timedelta(hours=24)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_link(s: Session, tenant_id: str, integration: str, created_by: str) -> str:
    """A new link's raw token (never stored)."""
    raw = secrets.token_urlsafe(24)
    s.add(
        ConnectLink(
            token_hash=_hash(raw),
            tenant_id=tenant_id,
            integration_slug=integration,
            created_by=created_by,
            expires_at=utcnow() + LINK_TTL,
        )
    )
    s.flush()
    return raw


def _refusal(row: ConnectLink | None) -> HubError:
    if row is None:
        why = "is not one this hub issued for your team"
    elif row.used_at is not None:
        why = "was already used"
    else:
        why = "expired"
    return HubError(
        "conflict" if row is not None else "not_found",
        f"This connect link {why}. Ask the assistant for a new one, or connect from the "
        "console's Integrations page.",
        status=410 if row is not None else 404,
    )


def peek_link(s: Session, tenant_id: str, raw: str) -> ConnectLink:
    """The unused, unexpired link of this tenant (for the page that offers the button)."""
    row = s.scalar(
        select(ConnectLink).where(
            ConnectLink.token_hash == _hash(raw), ConnectLink.tenant_id == tenant_id
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise _refusal(row)
    return row


def use_link(s: Session, tenant_id: str, raw: str, actor: str) -> ConnectLink:
    """Spend the link once (one atomic UPDATE: two tabs cannot both start a flow)."""
    h, now = _hash(raw), utcnow()
    res = s.execute(
        update(ConnectLink)
        .where(
            ConnectLink.token_hash == h,
            ConnectLink.tenant_id == tenant_id,
            ConnectLink.used_at.is_(None),
            ConnectLink.expires_at > now,
        )
        .values(used_at=now, used_by=actor)
    )
    row = s.scalar(
        select(ConnectLink).where(ConnectLink.token_hash == h, ConnectLink.tenant_id == tenant_id)
    )
    if rowcount(res) != 1 or row is None:
        raise _refusal(row)
    return row


def purge_links(s: Session) -> int:
    """Drop links past their expiry (the scheduler's OAuth-state purge calls this too)."""
    res = s.execute(delete(ConnectLink).where(ConnectLink.expires_at <= utcnow()))
    return rowcount(res)
