"""OAuth apps: one per provider integration, client secret in the vault.

Two scopes. The instance's apps belong to the hub's operator (CLI only: `hub oauth register`);
their secrets are sealed under the vault owner APP_TENANT, which no tenant id can equal
(tenant ids start with `ten_`), and they may override the registry's endpoints (a sovereign
cloud's login host, a proxy, the sandbox in the demo). A tenant's own app (its owner or an
admin registers it in the console) overrides the instance's client for that tenant only; its
secret is sealed under the tenant. The endpoints stay the operator's: a tenant's app talks to
the instance app's overrides where there are some, else the registry's, so no tenant admin
can replace what other tenants use or point the hub's token requests at another server. Each
connection records whose app issued its tokens (`Connection.oauth_app`), and refreshes and
revokes with that one."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.connections.models import Connection, OAuthApp, TenantOAuthApp
from hub.connections.oauth.client import ClientCreds
from hub.connections.oauth.provider import Provider, provider_for
from hub.core import limits
from hub.core.errors import HubError
from hub.registry.service import get_integration
from vault import Vault, masked_hint

APP_TENANT = "hub:oauth-apps"
CALLBACK_PATH = "/oauth/callback"
INSTANCE, TENANT = "instance", "tenant"
CLIENT_ID_MAX = 300
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
    client_id = _check_client_id(client_id)
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
    app.client_id = client_id
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


def _check_client_id(client_id: str) -> str:
    client_id = client_id.strip()
    if not client_id:
        raise HubError(
            "invalid_request",
            "client_id is required: copy it from the provider's developer console.",
            details={"field": "client_id"},
        )
    if len(client_id) > CLIENT_ID_MAX or any(c.isspace() or not c.isprintable() for c in client_id):
        raise HubError(
            "invalid_request",
            f"client_id must be one word of at most {CLIENT_ID_MAX} printable characters, as "
            "the provider's console shows it.",
            details={"field": "client_id"},
        )
    return client_id


def register_tenant_app(
    s: Session,
    vault: Vault,
    tenant_id: str,
    actor: str,
    *,
    integration: str,
    client_id: str,
    client_secret: str | None,
) -> TenantOAuthApp:
    """Create or replace a tenant's own app (its secret sealed under the tenant); audited.

    A new app needs its secret; replacing one with an empty secret keeps the stored one."""
    slug, name, _ = _oauth_integration(s, integration)
    client_id = _check_client_id(client_id)
    secret = (client_secret or "").strip()
    if len(secret) > limits.CREDENTIAL_MAX or any(not c.isprintable() for c in secret):
        raise HubError(
            "invalid_request",
            f"client_secret must be at most {limits.CREDENTIAL_MAX} printable characters.",
            details={"field": "client_secret"},
        )
    app = s.get(TenantOAuthApp, (tenant_id, slug))
    if app is None and not secret:
        raise HubError(
            "invalid_request",
            f"client_secret is required: copy it from the app's page in {name}'s developer "
            "console (it is stored in the vault and never shown again).",
            details={"field": "client_secret"},
        )
    replaced = app is not None
    if app is None:
        app = TenantOAuthApp(tenant_id=tenant_id, integration_slug=slug, client_id=client_id)
    changed_client = replaced and app.client_id != client_id
    app.client_id = client_id
    app.created_by = actor
    s.add(app)
    s.flush()
    if secret:
        cred = vault.put(
            s,
            tenant_id=tenant_id,
            owner_id=f"oauth_app:{slug}",
            kind="oauth_token",
            fields={"client_secret": secret},
            hint={"client_secret": masked_hint(secret)},
            credential_id=app.credential_id,
        )
        app.credential_id = cred.id
    record(
        s,
        tenant_id,
        actor,
        "oauth_app.replaced" if replaced else "oauth_app.registered",
        integration=slug,
        details={
            "client_id": client_id,
            "scope": TENANT,
            "secret_changed": bool(secret),
            "client_changed": changed_client,
        },
    )
    log.info("tenant oauth app registered", extra={"integration": slug, "actor": actor})
    return app


def get_app(s: Session, integration: str) -> OAuthApp | None:
    """The instance's registered app for a provider, if any."""
    return s.get(OAuthApp, integration)


def get_tenant_app(s: Session, tenant_id: str, integration: str) -> TenantOAuthApp | None:
    """A tenant's own app for a provider, if it registered one."""
    return s.get(TenantOAuthApp, (tenant_id, integration))


def app_scope(s: Session, tenant_id: str, integration: str) -> str | None:
    """Whose app a new connection of this tenant would use: tenant, instance, or None."""
    if get_tenant_app(s, tenant_id, integration) is not None:
        return TENANT
    return INSTANCE if get_app(s, integration) is not None else None


def list_apps(s: Session) -> list[OAuthApp]:
    """Every instance app."""
    return list(s.scalars(select(OAuthApp).order_by(OAuthApp.integration_slug)))


def list_tenant_apps(s: Session, tenant_id: str) -> list[TenantOAuthApp]:
    """A tenant's own apps."""
    q = select(TenantOAuthApp).where(TenantOAuthApp.tenant_id == tenant_id)
    return list(s.scalars(q.order_by(TenantOAuthApp.integration_slug)))


def secret_hint(s: Session, vault: Vault, app: OAuthApp | TenantOAuthApp) -> str | None:
    """The client secret's masked hint."""
    if not app.credential_id:
        return None
    owner = app.tenant_id if isinstance(app, TenantOAuthApp) else APP_TENANT
    return vault.hints(s, owner, app.credential_id).get("client_secret")


def provider_and_client(
    s: Session,
    vault: Vault,
    integration: str,
    tenant_id: str | None = None,
    *,
    scope: str | None = None,
) -> tuple[Provider, ClientCreds, str]:
    """Everything needed to talk to a provider's authorization server, and whose app it is.

    `scope` pins the app (a connection's tokens belong to the app that issued them); without
    it, the tenant's own app wins over the instance's."""
    slug, name, definition = _oauth_integration(s, integration)
    app = get_app(s, slug)
    # Where the provider's authorization server is for this hub: the operator's say.
    overrides = {
        "authorize_url": app.authorize_url if app else None,
        "token_url": app.token_url if app else None,
        "revoke_url": app.revoke_url if app else None,
    }
    tenant_app = get_tenant_app(s, tenant_id, slug) if tenant_id and scope != INSTANCE else None
    if tenant_app is not None:
        secret = None
        if tenant_app.credential_id:
            secret = vault.read(s, tenant_app.tenant_id, tenant_app.credential_id).get(
                "client_secret"
            )
        provider = provider_for(slug, name, definition, overrides)
        return provider, ClientCreds(tenant_app.client_id, secret), TENANT
    if app is None or scope == TENANT:
        raise HubError(
            "not_available",
            f"No OAuth app is registered for {name}: an owner or admin sets one up in the "
            "console (Integrations > Set up the OAuth app, which shows the redirect URI to "
            f"register at the provider), or an operator runs `hub oauth register {slug} "
            "--client-id ...`.",
        )
    secret = None
    if app.credential_id:
        secret = vault.read(s, APP_TENANT, app.credential_id).get("client_secret")
    provider = provider_for(slug, name, definition, overrides)
    return provider, ClientCreds(app.client_id, secret), INSTANCE


def connection_client(s: Session, vault: Vault, conn: Connection) -> tuple[Provider, ClientCreds]:
    """The provider and the client that issued a connection's tokens (to refresh or revoke)."""
    provider, creds, _ = provider_and_client(
        s, vault, conn.integration_slug, conn.tenant_id, scope=conn.oauth_app or INSTANCE
    )
    return provider, creds
