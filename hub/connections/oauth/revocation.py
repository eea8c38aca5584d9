"""Disconnect revokes at the provider (RFC 7009) where it can, so a removed connection leaves
no live grant behind at the vendor."""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy.orm import Session

from hub.connections.models import Connection
from hub.connections.oauth import client as oauth
from hub.connections.oauth.apps import connection_client
from hub.core.errors import HubError
from vault import Vault

log = logging.getLogger("hub.connections.oauth")

Revocation = Literal["revoked", "failed", "not_supported", "not_oauth"]


def revoke_tokens(s: Session, vault: Vault, conn: Connection) -> Revocation:
    """Revoke a connection's OAuth tokens at its provider: the refresh token first (which ends
    the whole grant at most providers), then the access token. Never raises: disconnecting must
    work even when the provider is down; the outcome goes in the audit row instead."""
    if not conn.credential_id or vault.get(s, conn.tenant_id, conn.credential_id).kind != (
        "oauth_token"
    ):
        return "not_oauth"
    fields = vault.read(s, conn.tenant_id, conn.credential_id)
    tokens = [(fields[k], k) for k in ("refresh_token", "access_token") if fields.get(k)]
    try:
        provider, creds = connection_client(s, vault, conn)
    except HubError:
        return "not_supported"  # the app was removed: nothing to revoke with
    if not provider.endpoints.revoke_url:
        return "not_supported"
    ok = [oauth.revoke(provider.endpoints, creds, token=t, hint=k) for t, k in tokens]
    if all(ok):
        return "revoked"
    log.warning(
        "oauth revocation failed",
        extra={"integration": conn.integration_slug, "connection_id": conn.id},
    )
    return "failed"
