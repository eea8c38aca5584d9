"""The sandbox authorization server (oidc-provider) for OAuth tests, and a scripted consent."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

from hub.connections.oauth.apps import register_app
from hub.runtime import Runtime
from hub.sandbox.authserver import AuthServer, OAuthClient

# Which sandbox clients stand for which integration, with the real provider's habits:
# Google never rotates and answers refreshes without a refresh token; Microsoft rotates.
# DocuSign takes the client secret by Basic auth and lists the user's accounts at userinfo,
# each with its own API host; the one marked default becomes the connection's.
DOCUSIGN_ACCOUNT = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
DOCUSIGN_OTHER_ACCOUNT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
DOCUSIGN_ACCOUNTS = [
    {
        "account_id": DOCUSIGN_OTHER_ACCOUNT,
        "is_default": False,
        "account_name": "Sparkle Holdings",
        "base_uri": "https://eu.docusign.net",
    },
    {
        "account_id": DOCUSIGN_ACCOUNT,
        "is_default": True,
        "account_name": "Sparkle Window Cleaning",
        "base_uri": "https://demo.docusign.net",
    },
]
HABITS = {
    "google_calendar": {"omit_refresh_on_refresh": True},
    "outlook_calendar": {"rotate": True},
    "google_business_profile": {"omit_refresh_on_refresh": True},
    "docusign": {"auth_method": "client_secret_basic", "accounts": DOCUSIGN_ACCOUNTS},
}
SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/business.manage",
    "User.Read",
    "Calendars.ReadWrite",
    "signature",
    "extended",
]


def clients_for(redirect_uris: list[str]) -> list[OAuthClient]:
    """One sandbox client per integration, secret random per run."""
    return [
        OAuthClient(
            client_id=f"hub-{slug}",
            client_secret=secrets.token_urlsafe(24),
            redirect_uris=redirect_uris,
            **habits,  # type: ignore[arg-type]
        )
        for slug, habits in HABITS.items()
    ]


def start_auth_server(redirect_uris: list[str], access_ttl: int = 60) -> AuthServer:
    """A running oidc-provider for these redirect URIs."""
    return AuthServer(clients_for(redirect_uris), scopes=SCOPES, access_ttl=access_ttl).start()


def register_apps(rt: Runtime, server: AuthServer) -> None:
    """Register the hub's OAuth apps, endpoints pointed at the sandbox server."""
    with rt.db.session() as s:
        for c in server.clients:
            register_app(
                s,
                rt.vault,
                "operator",
                integration=c.client_id.removeprefix("hub-"),
                client_id=c.client_id,
                client_secret=c.client_secret,
                authorize_url=server.authorize_url,
                token_url=server.token_url,
                revoke_url=server.revoke_url,
            )


def client_of(server: AuthServer, integration: str) -> OAuthClient:
    """The sandbox client standing for an integration."""
    return next(c for c in server.clients if c.client_id == f"hub-{integration}")


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
