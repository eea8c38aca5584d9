"""MCP OAuth discovery against real parts: oidc-provider's metadata and a protected server's
RFC 9728 answer; and the guard refusing a metadata URL outside the allow-list."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hub.core.errors import HubError
from hub.core.outbound import allow_from
from hub.federation.oauth import (
    authorize_url,
    discover_auth_server,
    discover_protected,
    pkce_pair,
    resource_metadata_hint,
)
from hub.federation.oauth_tokens import (
    Client,
    GrantRevoked,
    exchange_code,
    refresh_tokens,
    register_client,
)
from hub.sandbox.authserver import AuthServer
from tests.connections.oauth_kit import start_auth_server

LOOPBACK = allow_from(["127.0.0.0/8"])


@pytest.fixture(scope="module")
def issuer() -> Iterator[AuthServer]:
    """A real oidc-provider."""
    server = start_auth_server(["http://127.0.0.1:8000/oauth/callback"])
    yield server
    server.stop()


def _protected_server(issuer_url: str, *, hint: bool) -> tuple[ThreadingHTTPServer, str]:
    """A minimal resource that answers 401 and serves RFC 9728 metadata (hinted or well-known)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, code: int, body: dict[str, object], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            www = f'Bearer resource_metadata="{base}/meta/prm"' if hint else "Bearer"
            self._send(401, {"error": "unauthorized"}, {"WWW-Authenticate": www})

        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            wanted = "/meta/prm" if hint else "/.well-known/oauth-protected-resource/mcp"
            if self.path == wanted:
                self._send(
                    200,
                    {"resource": f"{base}/mcp", "authorization_servers": [issuer_url]},
                    {},
                )
            else:
                self._send(404, {}, {})

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/mcp"


@pytest.mark.parametrize("hint", [True, False], ids=["www-authenticate", "well-known"])
def test_protected_resource_then_auth_server(issuer: AuthServer, hint: bool) -> None:
    httpd, url = _protected_server(issuer.url, hint=hint)
    try:
        found = asyncio.run(discover_protected(url, LOOPBACK))
    finally:
        httpd.shutdown()
    assert found.resource == url
    assert found.authorization_servers == (issuer.url,)
    meta = asyncio.run(discover_auth_server(found.authorization_servers[0], LOOPBACK))
    assert meta.issuer == issuer.url
    assert meta.authorization_endpoint == issuer.authorize_url
    assert meta.token_endpoint == issuer.token_url


def test_guard_refuses_unlisted_issuer(issuer: AuthServer) -> None:
    with pytest.raises(HubError) as caught:
        asyncio.run(discover_auth_server(issuer.url, allow_from(["example.org"])))
    assert caught.value.kind == "outbound_refused"


def test_pkce_and_authorize_url(issuer: AuthServer) -> None:
    verifier, challenge = pkce_pair()
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert challenge == digest.decode()
    meta = asyncio.run(discover_auth_server(issuer.url, LOOPBACK))
    q = parse_qs(
        urlsplit(
            authorize_url(
                meta,
                client_id="c",
                redirect_uri="http://127.0.0.1:8000/oauth/callback",
                state="s",
                challenge=challenge,
                resource="http://127.0.0.1:1/mcp",
            )
        ).query
    )
    assert q["code_challenge_method"] == ["S256"]
    assert q["resource"] == ["http://127.0.0.1:1/mcp"]
    assert resource_metadata_hint('Bearer error="x", resource_metadata="https://a/b"') == (
        "https://a/b"
    )
    assert resource_metadata_hint("Bearer") is None


def test_code_exchange_refresh_and_revoked_grant(issuer: AuthServer) -> None:
    """Consent on oidc-provider's pages, code -> tokens bound to the resource, refresh, and
    invalid_grant once the refresh token is revoked."""
    sandbox_client = next(c for c in issuer.clients if c.client_id == "hub-outlook_calendar")
    client = Client(sandbox_client.client_id, sandbox_client.client_secret)
    callback = "http://127.0.0.1:8000/oauth/callback"
    resource = "http://127.0.0.1:1/mcp"
    meta = asyncio.run(discover_auth_server(issuer.url, LOOPBACK))
    verifier, challenge = pkce_pair()
    url = authorize_url(
        meta,
        client_id=client.client_id,
        redirect_uri=callback,
        state="st",
        challenge=challenge,
        resource=resource,
        scope="openid offline_access",
    )
    back = parse_qs(
        urlsplit(issuer.approve(url + "&prompt=consent", "admin", stop_at=callback)).query
    )
    assert back["state"] == ["st"]
    tokens = asyncio.run(
        exchange_code(
            LOOPBACK,
            meta.token_endpoint,
            client,
            code=back["code"][0],
            verifier=verifier,
            redirect_uri=callback,
            resource=resource,
        )
    )
    assert tokens.refresh_token and tokens.expires_at
    assert tokens.access_token not in repr(tokens)
    seen = issuer.introspect(tokens.access_token, sandbox_client)
    assert seen["active"] is True and seen.get("aud") == resource
    fresh = asyncio.run(
        refresh_tokens(
            LOOPBACK,
            meta.token_endpoint,
            client,
            refresh_token=tokens.refresh_token,
            resource=resource,
        )
    )
    assert fresh.access_token != tokens.access_token
    assert fresh.refresh_token
    httpx.post(
        issuer.revoke_url,
        data={"token": fresh.refresh_token, "token_type_hint": "refresh_token"},
        auth=(client.client_id, sandbox_client.client_secret),
        timeout=5,
    )
    with pytest.raises(GrantRevoked) as caught:
        asyncio.run(
            refresh_tokens(
                LOOPBACK,
                meta.token_endpoint,
                client,
                refresh_token=fresh.refresh_token,
                resource=resource,
            )
        )
    assert "reconnect" in caught.value.message
    assert fresh.refresh_token not in caught.value.message


def test_dynamic_client_registration(issuer: AuthServer) -> None:
    """The AS advertises RFC 7591 registration; the hub registers and gets a usable client."""
    meta = asyncio.run(discover_auth_server(issuer.url, LOOPBACK))
    assert meta.registration_endpoint
    client = asyncio.run(
        register_client(
            LOOPBACK,
            meta.registration_endpoint,
            redirect_uri="http://127.0.0.1:8000/oauth/callback",
            name="hub test",
        )
    )
    assert client.client_id and client.client_secret
    assert client.client_secret not in repr(client)
