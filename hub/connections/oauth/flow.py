"""The connect flow: start (authorize URL with a fresh state) and the callback (exchange the
code, store the tokens, connect). The token call runs outside any database transaction."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from hub.accounts.oauth_states import consume_state, create_state
from hub.audit.service import record
from hub.connections.health import set_status
from hub.connections.models import Connection
from hub.connections.oauth import client as oauth
from hub.connections.oauth.apps import provider_and_client, redirect_uri
from hub.connections.oauth.provider import Provider
from hub.connections.oauth.tokens import expiry_of, token_fields, token_hints
from hub.connections.records import check_base_url, connection_for
from hub.core.errors import HubError
from hub.db.base import utcnow
from hub.db.engine import Database
from hub.registry.service import get_integration
from vault import Vault

log = logging.getLogger("hub.connections.oauth")


def start(
    s: Session,
    vault: Vault,
    *,
    tenant_id: str,
    user_id: str | None,
    actor: str,
    integration: str,
    public_url: str,
    connected_via: str = "ui",
    base_url: str | None = None,
) -> str:
    """Begin connecting: store a state bound to the caller and return the authorize URL.

    A first connect creates the connection now, `pending_setup` until the callback, so the
    vendor base URL (a sandbox in demos and tests) is known before the test call runs."""
    integ = get_integration(s, integration)
    if integ.status not in ("available", "beta"):
        raise HubError(
            "not_available",
            f"{integ.name} is {integ.status.replace('_', ' ')}: it cannot be connected yet.",
        )
    provider, creds, _ = provider_and_client(s, vault, integration, tenant_id)
    conn = connection_for(s, tenant_id, provider.integration)
    if conn is None:
        s.add(
            Connection(
                tenant_id=tenant_id,
                integration_slug=provider.integration,
                status="pending_setup",
                account_label=provider.name,
                connected_via=connected_via,
                config={},
                base_url=check_base_url(base_url),
                created_by=actor,
            )
        )
    elif base_url is not None:
        conn.base_url = check_base_url(base_url)
    verifier = oauth.new_verifier()
    ru = redirect_uri(public_url)
    raw = create_state(
        s,
        tenant_id=tenant_id,
        user_id=user_id,
        actor=actor,
        integration=provider.integration,
        verifier=verifier,
        redirect_uri=ru,
        connected_via=connected_via,
    )
    record(s, tenant_id, actor, "oauth.started", integration=provider.integration)
    return oauth.authorization_url(
        provider.endpoints, creds, redirect_uri=ru, state=raw, verifier=verifier
    )


@dataclass(frozen=True)
class _Pending:
    tenant_id: str
    actor: str
    integration: str
    verifier: str
    redirect_uri: str
    connected_via: str
    provider: Provider
    creds: oauth.ClientCreds
    app_scope: str


def _identity(provider: Provider, tok: oauth.TokenSet) -> str:
    how = provider.identity
    if how.get("source") == "id_token":
        claims = oauth.id_token_claims(tok.raw.get("id_token"))
        return str(claims.get(how.get("claim", "email")) or claims.get("sub") or "")
    if how.get("source") == "token_response":
        value = tok.raw.get(how.get("field", ""))
        return str(value) if isinstance(value, str | int) else ""
    return ""


def _connections_lookup(provider: Provider, tok: oauth.TokenSet) -> dict[str, str]:
    """The account the grant is for, from a GET after the exchange: Xero's connections (the
    first item), DocuSign's userinfo (the `accounts` item marked `is_default`)."""
    if not provider.connections_url:
        return {}
    try:
        resp = httpx.get(
            provider.connections_url,
            headers={"Authorization": f"Bearer {tok.access_token}"},
            timeout=oauth.TIMEOUT_S,
        )
        doc = resp.json() if resp.status_code == 200 else []
    except (httpx.HTTPError, ValueError):
        doc = []
    if provider.connections_items:
        doc = doc.get(provider.connections_items) if isinstance(doc, dict) else []
    items = [i for i in doc if isinstance(i, dict)] if isinstance(doc, list) else []
    prefer = provider.connections_prefer
    preferred = [i for i in items if prefer and i.get(prefer) in (True, "true")]
    first = (preferred or items or [{}])[0]
    return {
        dst: str(first[src])
        for src, dst in provider.connections_fields.items()
        if isinstance(first.get(src), str | int) and not isinstance(first.get(src), bool)
    }


def _usable(definition: dict[str, Any], found: dict[str, str]) -> dict[str, str]:
    """Found values that fit their credential field's pattern; the others are not kept (an
    odd answer must not become, say, the host the access token is sent to)."""
    patterns = {
        f["name"]: f["pattern"] for f in definition.get("credential_fields", []) if f.get("pattern")
    }
    kept = {k: v for k, v in found.items() if k not in patterns or re.fullmatch(patterns[k], v)}
    if len(kept) < len(found):
        log.warning(
            "oauth account lookup answered values of an unexpected form",
            extra={"fields": sorted(set(found) - set(kept))},
        )
    return kept


def complete(
    db: Database, vault: Vault, *, params: dict[str, str], callback_url: str
) -> Connection:
    """Handle the provider's redirect: check the state and redirect URI, exchange, connect."""
    with db.session() as s:
        # The state is spent even when what follows fails: a callback is never replayable.
        st = consume_state(s, params.get("state"))
        pending = _Pending(
            st.tenant_id,
            st.actor,
            st.integration_slug,
            st.code_verifier,
            st.redirect_uri,
            st.connected_via,
            *provider_and_client(s, vault, st.integration_slug, st.tenant_id),
        )
    if callback_url != pending.redirect_uri:
        raise HubError(
            "invalid_request",
            "The OAuth callback arrived at a redirect URI other than the one the authorization "
            "was started with; redirect URIs must match exactly. Start again from the hub.",
            details={"field": "redirect_uri"},
        )
    if params.get("error"):
        raise HubError(
            "invalid_request",
            f"{pending.provider.name} did not authorize the connection "
            f"({params['error'][:60]}). Start again and approve the requested access.",
        )
    code = params.get("code")
    if not code:
        raise HubError(
            "invalid_request",
            "The OAuth callback has no code: start the connection again.",
            details={"field": "code"},
        )
    try:
        tok = oauth.exchange_code(
            pending.provider.endpoints,
            pending.creds,
            code=code,
            redirect_uri=pending.redirect_uri,
            verifier=pending.verifier,
        )
    except oauth.TokenError as exc:
        raise HubError(
            "vendor_unavailable" if exc.error == "unavailable" else "invalid_request",
            f"{pending.provider.name} refused the authorization code ({exc.error}). "
            "Start the connection again.",
        ) from None
    account = _identity(pending.provider, tok)
    config = {
        dst: params[src][:200]
        for src, dst in pending.provider.callback_params.items()
        if src in params
    }
    found = _connections_lookup(pending.provider, tok)
    with db.session() as s:
        return store_tokens(s, vault, pending, tok, account, config, found=found)


def store_tokens(
    s: Session,
    vault: Vault,
    p: _Pending,
    tok: oauth.TokenSet,
    account: str,
    config: dict[str, Any],
    *,
    found: dict[str, str] | None = None,
) -> Connection:
    """Create or reconnect the tenant's connection with fresh tokens.

    `config` comes from the callback (the account the user picked: it replaces what was set);
    `found` from the account lookup, a default guess that fills only fields not yet set (an
    admin's choice of another account survives a reconnect). A found API host becomes the
    base URL unless one was set (a sandbox in tests, an admin's override)."""
    conn = connection_for(s, p.tenant_id, p.integration)
    fresh = conn is None or conn.credential_id is None
    if conn is None:
        conn = Connection(
            tenant_id=p.tenant_id,
            integration_slug=p.integration,
            status="pending_setup",
            account_label=account or p.provider.name,
            connected_via=p.connected_via,
            config={},
            created_by=p.actor,
        )
        s.add(conn)
        s.flush()
    fields = token_fields(tok)
    cred = vault.put(
        s,
        tenant_id=p.tenant_id,
        owner_id=conn.id,
        kind="oauth_token",
        fields=fields,
        hint=token_hints(fields),
        scopes=(tok.scope or "").split(),
        expires_at=expiry_of(tok),
        credential_id=conn.credential_id,
    )
    conn.credential_id = cred.id
    conn.oauth_app = p.app_scope  # refreshes and revocation must use the issuing client
    conn.token_expires_at = expiry_of(tok)
    found = _usable(get_integration(s, p.integration).definition, found or {})
    conn.config = {**found, **conn.config, **config}
    field = p.provider.base_url_field
    host = found.get(field) if field else None
    if host and field and conn.base_url is None and conn.config.get(field) == host:
        conn.base_url = check_base_url(host)
    account = account or found.get("account_name", "")
    if account:
        conn.account_label = account
    conn.connected_via = p.connected_via
    conn.updated_at = utcnow()
    set_status(s, conn, "connected", reason="authorized through OAuth", kind=None)
    record(
        s,
        p.tenant_id,
        p.actor,
        "connection.created" if fresh else "connection.reconnected",
        target=conn.id,
        integration=p.integration,
        details={
            "connected_via": p.connected_via,
            "oauth": True,
            "scopes": sorted((tok.scope or "").split()),
            "refresh_token": tok.refresh_token is not None,
            "oauth_app": p.app_scope,
        },
    )
    return conn
