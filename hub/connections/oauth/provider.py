"""A provider's OAuth quirks, read from the registry's `oauth` block (registry_seed/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
    # A GET after the exchange whose first item names the account (Xero's connections;
    # DocuSign's userinfo, whose `accounts` list marks the default one).
    connections_url: str | None = None
    connections_items: str | None = None
    connections_prefer: str | None = None
    connections_fields: dict[str, str] = field(default_factory=dict)
    # The found config field that is the account's own API host (DocuSign's base_uri).
    base_url_field: str | None = None
    refresh_lead_s: int = DEFAULT_REFRESH_LEAD_S
    # Refresh at least this often even when unused: some refresh tokens die idle.
    keep_alive_days: int | None = None


def _follow_token_host(url: str | None, registry_token_url: str, token_url: str) -> str | None:
    """A connections URL on the registry token endpoint's host moves with an app's token URL
    override (DocuSign's demo environment, account-d.docusign.com, or a sandbox)."""
    if not url:
        return None
    here, reg, used = urlsplit(url), urlsplit(registry_token_url), urlsplit(token_url)
    if here.netloc != reg.netloc or used.netloc == reg.netloc:
        return url
    return urlunsplit(here._replace(scheme=used.scheme, netloc=used.netloc))


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
        connections_url=_follow_token_host(o.get("connections_url"), o["token_url"], ep.token_url),
        connections_items=o.get("connections_items"),
        connections_prefer=o.get("connections_prefer"),
        connections_fields=dict(o.get("connections_fields", {})),
        base_url_field=o.get("base_url_field"),
        refresh_lead_s=int(o.get("refresh_lead_s", DEFAULT_REFRESH_LEAD_S)),
        keep_alive_days=o.get("keep_alive_days"),
    )
