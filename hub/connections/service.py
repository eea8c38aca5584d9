"""Connecting, updating and removing a tenant's integrations. No HTTP here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.connections.credentials import DIRECT_KINDS, split_credentials
from hub.connections.health import set_status
from hub.connections.models import Connection
from hub.connections.oauth.revocation import revoke_tokens
from hub.connections.records import check_base_url, connection_for
from hub.core import limits
from hub.core.errors import HubError, not_found
from hub.db.base import table_of, utcnow
from hub.registry.service import get_integration
from vault import Vault, masked_hint

__all__ = [
    "USABLE_STATUSES",
    "Connection",
    "connected_integrations",
    "connection_for",
    "create_connection",
    "credential_hints",
    "delete_connection",
    "get_connection",
    "list_connections",
    "note_outcome_health",
    "routing_rows",
    "set_health",
    "update_connection",
]

USABLE_STATUSES = ("connected", "warning")


def list_connections(s: Session, tenant_id: str) -> list[Connection]:
    """A tenant's connections, by integration."""
    q = select(Connection).where(Connection.tenant_id == tenant_id)
    return list(s.scalars(q.order_by(Connection.integration_slug)))


def get_connection(s: Session, tenant_id: str, connection_id: str) -> Connection:
    """One connection of this tenant (404 for any other tenant's)."""
    c = s.get(Connection, connection_id)
    if c is None or c.tenant_id != tenant_id:
        raise not_found("connection")
    return c


def connected_integrations(s: Session, tenant_id: str) -> set[str]:
    """Slugs of integrations this tenant can use now (connected or warning)."""
    q = select(Connection.integration_slug).where(
        Connection.tenant_id == tenant_id, Connection.status.in_(USABLE_STATUSES)
    )
    return set(s.scalars(q))


def tenants_using(s: Session, integration_slug: str) -> list[str]:
    """Ids of the tenants with a usable connection to an integration (who an outage hits)."""
    q = select(Connection.tenant_id).where(
        Connection.integration_slug == integration_slug, Connection.status.in_(USABLE_STATUSES)
    )
    return sorted(set(s.scalars(q)))


def _credential_kind(integration: Any) -> str:
    auth = integration.auth_type
    if auth not in DIRECT_KINDS:
        how = {
            "oauth2": "it connects through OAuth (Connect with the vendor), not pasted keys",
            "mcp": "it is a remote MCP server: register it by URL instead",
        }.get(auth, f"its auth type is {auth}")
        raise HubError(
            "invalid_request",
            f"{integration.name} cannot be connected with credentials here: {how}.",
            details={"field": "integration"},
        )
    return DIRECT_KINDS[auth]


def _check_available(integration: Any) -> None:
    if integration.status not in ("available", "beta"):
        raise HubError(
            "not_available",
            f"{integration.name} is {integration.status.replace('_', ' ')}: it cannot be "
            "connected yet. See GET /api/integrations?status=available for what can.",
        )


def create_connection(
    s: Session,
    vault: Vault,
    tenant_id: str,
    actor: str,
    *,
    integration: str,
    credentials: dict[str, Any],
    account_label: str = "",
    base_url: str | None = None,
    config: dict[str, Any] | None = None,
    connected_via: str = "api",
) -> Connection:
    """Connect an integration with API-key / service-account credentials."""
    if config is not None:
        limits.check_json(config, "config")
    integ = get_integration(s, integration)
    _check_available(integ)
    kind = _credential_kind(integ)
    fields = integ.definition.get("credential_fields", [])
    secret, plain = split_credentials(fields, credentials)
    if connection_for(s, tenant_id, integ.slug) is not None:
        raise HubError(
            "conflict",
            f"This tenant already has a {integ.name} connection; update its credentials "
            "with PATCH /api/connections/{id} or delete it first.",
        )
    conn = Connection(
        tenant_id=tenant_id,
        integration_slug=integ.slug,
        status="connected",
        account_label=account_label or plain.get("account_label", "") or integ.name,
        connected_via=connected_via,
        config={**(config or {}), **plain},
        base_url=check_base_url(base_url),
        created_by=actor,
        status_changed_at=utcnow(),
    )
    s.add(conn)
    s.flush()
    if secret:
        cred = vault.put(
            s,
            tenant_id=tenant_id,
            owner_id=conn.id,
            kind=kind,
            fields=secret,
            hint={k: masked_hint(v) for k, v in secret.items()},
        )
        conn.credential_id = cred.id
    record(
        s,
        tenant_id,
        actor,
        "connection.created",
        target=conn.id,
        integration=integ.slug,
        details={"fields": sorted([*secret, *plain]), "connected_via": connected_via},
    )
    return conn


def update_connection(
    s: Session,
    vault: Vault,
    tenant_id: str,
    actor: str,
    connection_id: str,
    *,
    credentials: dict[str, Any] | None = None,
    account_label: str | None = None,
    base_url: str | None = None,
    config: dict[str, Any] | None = None,
) -> Connection:
    """Change a connection; new credential fields replace old ones, absent ones are kept."""
    conn = get_connection(s, tenant_id, connection_id)
    integ = get_integration(s, conn.integration_slug)
    changed: list[str] = []
    if credentials:
        kind = _credential_kind(integ)
        secret, plain = split_credentials(
            integ.definition.get("credential_fields", []), credentials, partial=True
        )
        if secret:
            merged = (
                dict(vault.read(s, tenant_id, conn.credential_id)) if conn.credential_id else {}
            )
            merged.update(secret)
            cred = vault.put(
                s,
                tenant_id=tenant_id,
                owner_id=conn.id,
                kind=kind,
                fields=merged,
                hint={k: masked_hint(v) for k, v in merged.items()},
                credential_id=conn.credential_id,
            )
            conn.credential_id = cred.id
        if plain:
            conn.config = {**conn.config, **plain}
        changed += sorted(f"credentials.{k}" for k in [*secret, *plain])
        # New credentials clear an auth error: the next call is the test.
        if conn.status == "error":
            set_status(s, conn, "connected", reason="credentials updated", kind=None)
    if account_label is not None:
        conn.account_label = account_label
        changed.append("account_label")
    if base_url is not None:
        conn.base_url = check_base_url(base_url) if base_url else None
        changed.append("base_url")
    if config is not None:
        limits.check_json(config, "config")
        declared = {f["name"] for f in integ.definition.get("credential_fields", [])}
        conn.config = {**{k: v for k, v in conn.config.items() if k in declared}, **config}
        changed.append("config")
    conn.updated_at = utcnow()
    record(
        s,
        tenant_id,
        actor,
        "connection.updated",
        target=conn.id,
        integration=conn.integration_slug,
        details={"changed": changed},
    )
    return conn


def delete_connection(
    s: Session, vault: Vault, tenant_id: str, actor: str, connection_id: str
) -> None:
    """Disconnect: revoke OAuth tokens at the provider where it can, remove the connection and
    destroy its stored credential. The audit row says whether the provider revoked them, so an
    admin knows when to revoke by hand at the vendor."""
    conn = get_connection(s, tenant_id, connection_id)
    revocation = revoke_tokens(s, vault, conn)
    if conn.credential_id:
        vault.delete(s, tenant_id, conn.credential_id)
    record(
        s,
        tenant_id,
        actor,
        "connection.deleted",
        target=conn.id,
        integration=conn.integration_slug,
        details={"revocation": revocation},
    )
    s.delete(conn)


def credential_hints(s: Session, vault: Vault, conn: Connection) -> dict[str, str]:
    """Masked hints of a connection's secret fields (never the values)."""
    if not conn.credential_id:
        return {}
    return vault.hints(s, conn.tenant_id, conn.credential_id)


# The call path reads every connection of the tenant once per call: a prebuilt statement.
_conns = table_of(Connection)
_ROUTING = select(
    _conns.c.id, _conns.c.integration_slug, _conns.c.status, _conns.c.last_error
).where(_conns.c.tenant_id == bindparam("tenant_id"))


def routing_rows(s: Session, tenant_id: str) -> dict[str, Row[Any, Any, Any, Any]]:
    """integration slug -> (id, integration_slug, status, last_error) of a tenant's connections."""
    rows = s.connection().execute(_ROUTING, {"tenant_id": tenant_id})
    return {r.integration_slug: r for r in rows}


def note_outcome_health(
    s: Session, connection_id: str, status: str, *, error: str | None, kind: str | None
) -> None:
    """What a call's outcome says about its connection (no-op when it was removed meanwhile)."""
    conn = s.get(Connection, connection_id)
    if conn is not None:
        set_health(s, conn, status, error=error, kind=kind)
        s.flush()


def set_health(
    s: Session, conn: Connection, status: str, *, error: str | None = None, kind: str | None = None
) -> None:
    """Move a connection to connected / warning / error and remember why (recorded).

    A rate limit or an outage (warning) says nothing about credentials: it never clears an
    error; only a success or new credentials do."""
    if status == "warning" and conn.status == "error":
        return
    if error is not None and status not in ("warning", "error"):
        conn.last_error, conn.last_error_kind, conn.last_error_at = error, kind, utcnow()
    set_status(s, conn, status, reason=error, kind=kind)
