"""A provider's OAuth quirks, read from the registry's `oauth` block (registry_seed/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.connections.oauth.client import Endpoints

DEFAULT_REFRESH_LEAD_S = 300


@dataclass(frozen=True)
class Provider:
    """What the flow and the refresher need to know about one integration's provider."""

    integration: str
    name: str
    endpoints: Endpoints
    issues_refresh_tokens: bool
    rotates_refresh_tokens: bool
    # Where the connected account's name comes from: id_token claim or token response field.
    identity: dict[str, str] = field(default_factory=dict)
    # Callback query parameter -> connection config field (QuickBooks: realmId -> realm_id).
    callback_params: dict[str, str] = field(default_factory=dict)
    # A GET after the exchange whose first item names the account (Xero's connections).
    connections_url: str | None = None
    connections_fields: dict[str, str] = field(default_factory=dict)
    refresh_lead_s: int = DEFAULT_REFRESH_LEAD_S
    # Refresh at least this often even when unused: some refresh tokens die idle.
    keep_alive_days: int | None = None


def provider_for(
    slug: str, name: str, definition: dict[str, Any], overrides: dict[str, str | None]
) -> Provider:
    """Build the provider from the registry definition, with the app's endpoint overrides."""
    o = definition["oauth"]
    auth = {"basic": "client_secret_basic", "body": "client_secret_post"}.get(
        o.get("client_auth", "body"), "client_secret_post"
    )
    ep = Endpoints(
        authorize_url=overrides.get("authorize_url") or o["authorize_url"],
        token_url=overrides.get("token_url") or o["token_url"],
        revoke_url=overrides.get("revoke_url") or o.get("revoke_url"),
        scopes=tuple(o.get("scopes", [])),
        scope_separator=o.get("scope_separator", " "),
        client_auth=auth,
        extra_authorize_params=dict(o.get("extra_authorize_params", {})),
        client_id_param=o.get("client_id_param", "client_id"),
    )
    return Provider(
        integration=slug,
        name=name,
        endpoints=ep,
        issues_refresh_tokens=bool(o.get("refresh", True)),
        rotates_refresh_tokens=bool(o.get("rotates_refresh_tokens", False)),
        identity=dict(o.get("identity", {})),
        callback_params=dict(o.get("callback_params", {})),
        connections_url=o.get("connections_url"),
        connections_fields=dict(o.get("connections_fields", {})),
        refresh_lead_s=int(o.get("refresh_lead_s", DEFAULT_REFRESH_LEAD_S)),
        keep_alive_days=o.get("keep_alive_days"),
    )
