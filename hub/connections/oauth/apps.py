"""The operator's OAuth apps: one per provider integration, client secret in the vault.

Apps belong to the hub, not to a tenant: their secrets are sealed under the vault owner
APP_TENANT, which no tenant id can equal (tenant ids start with `ten_`)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.connections.models import OAuthApp
from hub.connections.oauth.client import ClientCreds
from hub.connections.oauth.provider import Provider, provider_for
from hub.core.errors import HubError
from hub.registry.service import get_integration
from vault import Vault, masked_hint

APP_TENANT = "hub:oauth-apps"
CALLBACK_PATH = "/oauth/callback"
log = logging.getLogger("hub.connections.oauth")


def redirect_uri(public_url: str) -> str:
    """The one redirect URI to register at every provider (exact match, SECURITY 19)."""
    return public_url.rstrip("/") + CALLBACK_PATH


def _oauth_integration(s: Session, integration: str) -> tuple[str, str, dict[str, Any]]:
    integ = get_integration(s, integration)
    if integ.auth_type != "oauth2" or "oauth" not in integ.definition:
        raise HubError(
            "invalid_request",
            f"{integ.name} does not connect through OAuth (its auth type is {integ.auth_type}).",
            details={"field": "integration"},
        )
    return integ.slug, integ.name, integ.definition


def register_app(
    s: Session,
    vault: Vault,
    actor: str,
    *,
    integration: str,
    client_id: str,
    client_secret: str | None,
    authorize_url: str | None = None,
    token_url: str | None = None,
    revoke_url: str | None = None,
) -> OAuthApp:
    """Create or replace the app for a provider (the client secret goes to the vault)."""
    slug, _, _ = _oauth_integration(s, integration)
    if not client_id.strip():
        raise HubError(
            "invalid_request",
            "client_id is required: copy it from the provider's developer console.",
            details={"field": "client_id"},
        )
    for name, url in (
        ("authorize_url", authorize_url),
        ("token_url", token_url),
        ("revoke_url", revoke_url),
    ):
        if url is not None and not url.startswith(
            ("https://", "http://127.0.0.1", "http://localhost")
        ):
            raise HubError(
                "invalid_request",
                f"{name} must be an https URL (plain http only on loopback).",
                details={"field": name},
            )
    app = s.get(OAuthApp, slug) or OAuthApp(integration_slug=slug, client_id=client_id)
    app.client_id = client_id.strip()
    app.authorize_url, app.token_url, app.revoke_url = authorize_url, token_url, revoke_url
    app.created_by = actor
    s.add(app)
    s.flush()
    if client_secret:
        cred = vault.put(
            s,
            tenant_id=APP_TENANT,
            owner_id=slug,
            kind="oauth_token",
            fields={"client_secret": client_secret},
            hint={"client_secret": masked_hint(client_secret)},
            credential_id=app.credential_id,
        )
        app.credential_id = cred.id
    log.info("oauth app registered", extra={"integration": slug, "actor": actor})
    return app


def get_app(s: Session, integration: str) -> OAuthApp | None:
    """The registered app for a provider, if any."""
    return s.get(OAuthApp, integration)


def list_apps(s: Session) -> list[OAuthApp]:
    """Every registered app."""
    return list(s.scalars(select(OAuthApp).order_by(OAuthApp.integration_slug)))


def secret_hint(s: Session, vault: Vault, app: OAuthApp) -> str | None:
    """The client secret's masked hint."""
    if not app.credential_id:
        return None
    return vault.hints(s, APP_TENANT, app.credential_id).get("client_secret")


def provider_and_client(s: Session, vault: Vault, integration: str) -> tuple[Provider, ClientCreds]:
    """Everything needed to talk to a provider's authorization server for this hub."""
    slug, name, definition = _oauth_integration(s, integration)
    app = get_app(s, slug)
    if app is None:
        raise HubError(
            "not_available",
            f"No OAuth app is registered for {name}: an operator registers one with "
            f"`hub oauth register {slug} --client-id ...` (or in the console's integration "
            "page), using the redirect URI that page shows.",
        )
    secret = None
    if app.credential_id:
        secret = vault.read(s, APP_TENANT, app.credential_id).get("client_secret")
    overrides = {
        "authorize_url": app.authorize_url,
        "token_url": app.token_url,
        "revoke_url": app.revoke_url,
    }
    return provider_for(slug, name, definition, overrides), ClientCreds(app.client_id, secret)
