"""The hub's record of its n8n: URL, API key and webhook secret (both kept in the vault)."""

from __future__ import annotations

import secrets
from typing import Protocol

from sqlalchemy.orm import Session

from hub.core.errors import HubError
from hub.core.hop import Hop
from hub.core.settings import Settings
from hub.db.engine import Database
from hub.n8n.invoke import WebhookInvoker
from hub.n8n.models import SYSTEM_TENANT, N8nInstance
from vault import Vault


class HubParts(Protocol):
    """What deploying and inspecting workflows needs of a running hub (a Runtime has it)."""

    settings: Settings
    db: Database
    vault: Vault


def get_instance(s: Session) -> N8nInstance | None:
    """The configured n8n, if any."""
    return s.get(N8nInstance, "default")


def register_instance(
    s: Session,
    vault: Vault,
    base_url: str,
    api_key: str | None = None,
    owner: dict[str, str] | None = None,
) -> N8nInstance:
    """Record (or update) the n8n the hub uses; secrets go to the vault."""
    inst = get_instance(s) or N8nInstance(id="default", base_url=base_url)
    inst.base_url = base_url.rstrip("/")
    s.add(inst)
    s.flush()
    if api_key:
        cred = vault.put(
            s,
            tenant_id=SYSTEM_TENANT,
            owner_id="n8n:default",
            kind="api_key",
            fields={"api_key": api_key},
            credential_id=inst.api_key_credential_id,
        )
        inst.api_key_credential_id = cred.id
    if owner:
        cred = vault.put(
            s,
            tenant_id=SYSTEM_TENANT,
            owner_id="n8n:default",
            kind="api_key",
            fields=owner,
            credential_id=inst.owner_credential_id,
        )
        inst.owner_credential_id = cred.id
    if inst.webhook_secret_credential_id is None:
        cred = vault.put(
            s,
            tenant_id=SYSTEM_TENANT,
            owner_id="n8n:default",
            kind="webhook_secret",
            fields={"secret": secrets.token_urlsafe(32)},
        )
        inst.webhook_secret_credential_id = cred.id
    return inst


def secret_of(s: Session, vault: Vault, credential_id: str | None, field: str) -> str | None:
    """One field of a system credential (for the hub's own use only)."""
    if not credential_id:
        return None
    return vault.read(s, SYSTEM_TENANT, credential_id).get(field)


def api_key(s: Session, vault: Vault, settings: Settings) -> tuple[str, str]:
    """(base URL, API key) for n8n's public API: environment first, then the stored ones."""
    inst = get_instance(s)
    url = settings.n8n_url or (inst.base_url if inst else None)
    key = settings.n8n_api_key or (
        secret_of(s, vault, inst.api_key_credential_id, "api_key") if inst else None
    )
    if not url or not key:
        raise HubError(
            "n8n_unavailable",
            "No n8n is configured: run `hub up` for a local one, or set HUB_N8N_URL "
            "and HUB_N8N_API_KEY for an external one.",
        )
    return url.rstrip("/"), key


def make_invoker(s: Session, vault: Vault, settings: Settings) -> Hop | None:
    """The hop to the configured n8n's webhooks, or None when none is set up yet."""
    inst = get_instance(s)
    url = settings.n8n_url or (inst.base_url if inst else None)
    if not url or inst is None:
        return None
    secret = secret_of(s, vault, inst.webhook_secret_credential_id, "secret")
    return WebhookInvoker(url, secret, timeout_s=settings.run_timeout_s) if secret else None
