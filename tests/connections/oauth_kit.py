"""The sandbox authorization server (oidc-provider) for OAuth tests, and a scripted consent
(the pieces `hub up` shares are in hub/sandbox/oauth.py)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

from hub.runtime import Runtime
from hub.sandbox.authserver import AuthServer

# The sandbox's clients, their habits and the apps registered against them live in
# hub/sandbox/oauth.py, shared with `hub up`'s demo.
from hub.sandbox.oauth import (  # noqa: F401 - re-exported for the tests
    DOCUSIGN_ACCOUNT,
    DOCUSIGN_ACCOUNTS,
    DOCUSIGN_OTHER_ACCOUNT,
    HABITS,
    SCOPES,
    client_of,
    clients_for,
    register_apps,
    start_auth_server,
)


def consent(authorize_url: str, login: str, *, stop_at: str) -> str:
    """Sign in and approve on oidc-provider's own pages (AuthServer.approve)."""
    return AuthServer.approve(authorize_url, login, stop_at=stop_at)


def query_of(url: str) -> dict[str, str]:
    """A URL's query parameters (first value each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def path_and_query(url: str) -> str:
    """What an in-process client requests for a full URL."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def iter_tokens(fields: dict[str, str]) -> Iterator[str]:
    """The secret values of stored token fields (canaries to search for)."""
    for k in ("access_token", "refresh_token"):
        if fields.get(k):
            yield fields[k]


def connect_via_flow(client, tenant, integration: str, login: str, callback: str) -> str:  # type: ignore[no-untyped-def]
    """Connect an OAuth integration through start, consent and the callback (in-process
    client); returns the connection id."""
    r = client.post(f"/api/oauth/{integration}/start", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    cb = consent(r.json()["authorize_url"], login, stop_at=callback)
    done = client.get(path_and_query(cb))
    assert done.status_code == 200, done.text
    return str(done.json()["connection_id"])


def stored_tokens(rt: Runtime, tenant_id: str, connection_id: str) -> dict[str, str]:
    """The connection's token fields as the vault holds them."""
    from hub.connections.models import Connection

    with rt.db.session() as s:
        conn = s.get(Connection, connection_id)
        assert conn is not None and conn.credential_id
        return dict(rt.vault.read(s, tenant_id, conn.credential_id))


def store_tokens(
    rt: Runtime,
    tenant_id: str,
    connection_id: str,
    fields: dict[str, str],
    *,
    vault_only: bool = False,
) -> None:
    """Overwrite the connection's token fields (another worker's write, or an expiry);
    `vault_only` leaves the connection row alone."""
    from datetime import UTC, datetime

    from hub.connections.models import Connection
    from hub.connections.oauth.tokens import token_hints

    with rt.db.session() as s:
        conn = s.get(Connection, connection_id)
        assert conn is not None and conn.credential_id
        rt.vault.put(
            s,
            tenant_id=tenant_id,
            owner_id=conn.id,
            kind="oauth_token",
            fields=fields,
            hint=token_hints(fields),
            credential_id=conn.credential_id,
        )
        if not vault_only:
            conn.token_expires_at = datetime.fromtimestamp(float(fields["expires_at"]), UTC)


def expire_now(rt: Runtime, tenant_id: str, connection_id: str, in_s: int = -1) -> dict[str, str]:
    """Make the stored access token look expired, or expiring in `in_s` seconds (the provider
    would still take it)."""
    import time

    fields = stored_tokens(rt, tenant_id, connection_id)
    fields["expires_at"] = str(int(time.time()) + in_s)
    fields["refreshed_at"] = str(int(time.time()) + in_s - 3600)  # an hour-long token
    store_tokens(rt, tenant_id, connection_id, fields)
    return fields
