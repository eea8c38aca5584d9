"""How an OAuth connection's tokens sit in the vault (credential kind oauth_token)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.connections.oauth.client import TokenSet
from vault import masked_hint

# Fields a workflow never needs: the edge hands out the access token only.
EDGE_WITHHELD = ("refresh_token",)


def token_fields(tok: TokenSet, previous_refresh: str | None = None) -> dict[str, str]:
    """Vault fields for a token set. No refresh token in the answer keeps the old one (17)."""
    fields = {"access_token": tok.access_token, "token_type": tok.token_type}
    refresh = tok.refresh_token or previous_refresh
    if refresh:
        fields["refresh_token"] = refresh
    if tok.expires_at is not None:
        fields["expires_at"] = str(int(tok.expires_at))
    if tok.scope:
        fields["scope"] = tok.scope
    fields["refreshed_at"] = str(int(datetime.now(UTC).timestamp()))
    return fields


def expiry_of(tok: TokenSet) -> datetime | None:
    """The access token's expiry as a datetime (None: the provider gave none)."""
    if tok.expires_at is None:
        return None
    return datetime.fromtimestamp(tok.expires_at, UTC)


def token_hints(fields: dict[str, str]) -> dict[str, str]:
    """Masked hints for the tokens (scopes and expiry sit in the credential's own columns)."""
    return {k: masked_hint(fields[k]) for k in ("access_token", "refresh_token") if k in fields}
