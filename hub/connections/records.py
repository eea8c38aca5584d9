"""Reads and checks on connection rows that the service and the OAuth flow share (kept
apart from the service so the flow, which the service calls to revoke, needs nothing of it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.connections.models import Connection
from hub.core.errors import HubError


def check_base_url(url: str | None) -> str | None:
    """Accept an http(s) URL with a host, without credentials or fragments."""
    if url is None:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(
            "invalid_request",
            "base_url must be an http(s) URL with a host.",
            details={"field": "base_url"},
        )
    if parts.username or parts.password or parts.fragment:
        raise HubError(
            "invalid_request",
            "base_url must not carry user:password@ or a #fragment; "
            "put credentials in the credentials fields.",
            details={"field": "base_url"},
        )
    return url.strip().rstrip("/")


def connection_for(s: Session, tenant_id: str, integration_slug: str) -> Connection | None:
    """The tenant's connection to an integration, if any."""
    q = select(Connection).where(
        Connection.tenant_id == tenant_id, Connection.integration_slug == integration_slug
    )
    return s.scalar(q)
