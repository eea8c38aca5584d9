"""Webhook endpoints: one per connection, its URL, its keys (from the vault), a small cache.

The key that verifies a vendor's requests is either the endpoint's own webhook-secret
credential (`signing_secret`, and Meta's `verify_token`) or, when none is set, the
connection's credential field the registry names (`webhooks.secret_field`: Twilio's auth
token, Dropbox Sign's API key...). Both are read from the vault, never stored elsewhere.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.connections.service import get_connection
from hub.core import caches
from hub.core.errors import HubError, not_found
from hub.db.base import utcnow
from hub.registry.service import get_integration
from hub.webhooks.models import WebhookEndpoint
from hub.webhooks.schemes import SCHEMES
from vault import Vault, masked_hint

PATH_PREFIX = "/webhooks"
#: How long a resolved endpoint (with its keys) is reused before the vault is read again;
#: a failed verification re-reads at once, so a rotated secret takes effect immediately.
CACHE_TTL_S = 30.0
SECRET_FIELDS = ("signing_secret", "verify_token")


@dataclass(frozen=True)
class EndpointKeys:
    """What the door needs to verify one endpoint's requests."""

    id: str
    tenant_id: str
    connection_id: str
    provider: str
    scheme: str | None
    keys: dict[str, str]
    loaded_at: float


def webhook_url(base_url: str, provider: str, endpoint_id: str) -> str:
    """The URL to paste into the vendor's webhook settings."""
    return f"{base_url.rstrip('/')}{PATH_PREFIX}/{provider}/{endpoint_id}"


def integration_scheme(s: Session, provider: str) -> str | None:
    """The registry's signature scheme for an integration (None: it sends no webhooks)."""
    hooks = get_integration(s, provider).definition.get("webhooks") or {}
    return hooks.get("signature")


def endpoint_for(s: Session, connection_id: str) -> WebhookEndpoint | None:
    """A connection's endpoint, if it has one."""
    return s.scalar(select(WebhookEndpoint).where(WebhookEndpoint.connection_id == connection_id))


def ensure_endpoint(s: Session, tenant_id: str, connection_id: str) -> WebhookEndpoint:
    """The connection's endpoint, created (with a fresh unguessable id) on first use."""
    ep = endpoint_for(s, connection_id)
    if ep is not None and ep.tenant_id == tenant_id:
        return ep
    conn = get_connection(s, tenant_id, connection_id)  # another tenant's: 404
    ep = WebhookEndpoint(tenant_id=tenant_id, connection_id=conn.id, provider=conn.integration_slug)
    s.add(ep)
    s.flush()
    return ep


def configure(
    s: Session,
    vault: Vault,
    tenant_id: str,
    actor: str,
    connection_id: str,
    *,
    signing_secret: str | None = None,
    verify_token: str | None = None,
    scheme: str | None = None,
) -> WebhookEndpoint:
    """Set an endpoint's signing secret / verify token (vault) or scheme; absent parts stay."""
    ep = ensure_endpoint(s, tenant_id, connection_id)
    if scheme is not None:
        if scheme and scheme not in SCHEMES:
            raise HubError(
                "invalid_request",
                f"scheme must be one of: {', '.join(sorted(SCHEMES))} (or empty for the "
                "integration's own).",
                details={"field": "scheme"},
            )
        ep.scheme = scheme or None
    given = {
        k: v.strip()
        for k, v in (("signing_secret", signing_secret), ("verify_token", verify_token))
        if v is not None and v.strip()
    }
    if given:
        merged = (
            dict(vault.read(s, tenant_id, ep.secret_credential_id))
            if (ep.secret_credential_id)
            else {}
        )
        merged.update(given)
        cred = vault.put(
            s,
            tenant_id=tenant_id,
            owner_id=ep.id,
            kind="webhook_secret",
            fields=merged,
            hint={k: masked_hint(v) for k, v in merged.items()},
            credential_id=ep.secret_credential_id,
        )
        ep.secret_credential_id = cred.id
    ep.updated_at = utcnow()
    record(
        s,
        tenant_id,
        actor,
        "webhook.configured",
        target=ep.id,
        integration=ep.provider,
        details={"changed": sorted([*given, *(["scheme"] if scheme is not None else [])])},
    )
    forget(ep.id)
    return ep


def hints(s: Session, vault: Vault, ep: WebhookEndpoint) -> dict[str, str]:
    """Masked hints of the endpoint's own secrets."""
    if not ep.secret_credential_id:
        return {}
    return vault.hints(s, ep.tenant_id, ep.secret_credential_id)


def _load(s: Session, vault: Vault, endpoint_id: str) -> EndpointKeys | None:
    ep = s.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        return None
    try:
        conn = get_connection(s, ep.tenant_id, ep.connection_id)
    except HubError:
        return None
    integ = get_integration(s, conn.integration_slug)
    hooks: dict[str, Any] = integ.definition.get("webhooks") or {}
    keys: dict[str, str] = {}
    secret_field = hooks.get("secret_field")
    if secret_field:
        # A secret field is in the vault; a public key (SendGrid's) is plain config.
        value = conn.config.get(secret_field)
        if conn.credential_id:
            value = vault.read(s, ep.tenant_id, conn.credential_id).get(secret_field) or value
        if isinstance(value, str) and value:
            keys["signing_secret"] = value
    if ep.secret_credential_id:
        own = vault.read(s, ep.tenant_id, ep.secret_credential_id)
        keys.update({k: v for k, v in own.items() if k in SECRET_FIELDS and v})
    return EndpointKeys(
        id=ep.id,
        tenant_id=ep.tenant_id,
        connection_id=ep.connection_id,
        provider=ep.provider,
        scheme=ep.scheme or hooks.get("signature"),
        keys=keys,
        loaded_at=time.monotonic(),
    )


_cache: dict[str, EndpointKeys | None] = {}
_cache_at: dict[str, float] = {}
_lock = threading.Lock()


def cached(endpoint_id: str) -> tuple[bool, EndpointKeys | None]:
    """(hit, keys) from the cache alone: a hit needs no database session at all."""
    now = time.monotonic()
    with _lock:
        at = _cache_at.get(endpoint_id)
        if at is not None and now - at < CACHE_TTL_S:
            return True, _cache[endpoint_id]
    return False, None


def resolve(
    s: Session, vault: Vault, endpoint_id: str, *, fresh: bool = False
) -> EndpointKeys | None:
    """An endpoint's keys, from the cache unless older than CACHE_TTL_S or `fresh`."""
    now = time.monotonic()
    with _lock:
        at = _cache_at.get(endpoint_id)
        if not fresh and at is not None and now - at < CACHE_TTL_S:
            return _cache[endpoint_id]
    got = _load(s, vault, endpoint_id)
    with _lock:
        if len(_cache) > 10_000:  # ids from a scan of random URLs must not grow it forever
            _cache.clear()
            _cache_at.clear()
        _cache[endpoint_id], _cache_at[endpoint_id] = got, now
    return got


def forget(endpoint_id: str) -> None:
    """Drop one endpoint from the cache (its secrets changed)."""
    with _lock:
        _cache.pop(endpoint_id, None)
        _cache_at.pop(endpoint_id, None)


def _clear() -> None:
    with _lock:
        _cache.clear()
        _cache_at.clear()


caches.register(_clear)


def get_endpoint(s: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    """One endpoint of this tenant (404 for any other)."""
    ep = s.get(WebhookEndpoint, endpoint_id)
    if ep is None or ep.tenant_id != tenant_id:
        raise not_found("webhook endpoint")
    return ep
