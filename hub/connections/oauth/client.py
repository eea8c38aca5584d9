"""The OAuth 2.0 protocol calls, on Authlib: authorize URL with PKCE S256, code exchange,
refresh, revocation. Nothing here knows the hub: give it endpoints and a client, get tokens.

Functions are synchronous (Authlib's httpx client); async callers run them in a thread, which
also lets a caller hold a database row lock across the token call (hub.connections.oauth.refresh).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Endpoints:
    """Where a provider's authorization server answers, and how it takes scopes."""

    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    # client_secret_basic or client_secret_post (RFC 6749 2.3.1).
    client_auth: str = "client_secret_basic"
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    # Some providers name the client id otherwise in the authorize URL (TikTok: client_key).
    client_id_param: str = "client_id"


@dataclass(frozen=True)
class ClientCreds:
    """An OAuth client registered at the provider."""

    client_id: str
    client_secret: str | None


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint answered. `raw` keeps extra fields (id_token, realmId...)."""

    access_token: str
    refresh_token: str | None
    expires_at: float | None
    scope: str | None
    token_type: str
    raw: dict[str, Any]

    @classmethod
    def from_response(cls, tok: dict[str, Any]) -> TokenSet:
        """Normalise a token response (expires_in -> expires_at)."""
        expires_at = tok.get("expires_at")
        if expires_at is None and tok.get("expires_in") is not None:
            expires_at = time.time() + float(tok["expires_in"])
        return cls(
            access_token=str(tok["access_token"]),
            refresh_token=tok.get("refresh_token") or None,
            expires_at=float(expires_at) if expires_at is not None else None,
            scope=tok.get("scope"),
            token_type=str(tok.get("token_type") or "Bearer"),
            raw=dict(tok),
        )


class TokenError(Exception):
    """The token endpoint refused (error is the RFC 6749 code, e.g. invalid_grant) or was
    unreachable (error 'unavailable'). The message never holds a token."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


def new_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43-128 characters)."""
    return generate_token(64)


def _client(
    ep: Endpoints, client: ClientCreds, redirect_uri: str | None = None, *, scoped: bool = False
) -> OAuth2Client:
    # Scopes go in the authorization request only: a refresh without `scope` keeps what was
    # granted (RFC 6749 6), where repeating scopes the user did not grant is refused.
    return OAuth2Client(
        client.client_id,
        client.client_secret,
        token_endpoint_auth_method=ep.client_auth,
        scope=(ep.scope_separator.join(ep.scopes) or None) if scoped else None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TIMEOUT_S,
        follow_redirects=False,
    )


def authorization_url(
    ep: Endpoints, client: ClientCreds, *, redirect_uri: str, state: str, verifier: str
) -> str:
    """The URL to send the user to: code flow, PKCE S256, the provider's extra parameters."""
    with _client(ep, client, redirect_uri, scoped=True) as c:
        url, _ = c.create_authorization_url(
            ep.authorize_url, state=state, code_verifier=verifier, **ep.extra_authorize_params
        )
    if ep.client_id_param != "client_id":
        url = url.replace("client_id=", f"{ep.client_id_param}=", 1)
    return str(url)


def _fail(exc: Exception) -> TokenError:
    if isinstance(exc, OAuthError):
        return TokenError(str(exc.error or "oauth_error"), str(exc.description or ""))
    return TokenError("unavailable", type(exc).__name__)


def exchange_code(
    ep: Endpoints, client: ClientCreds, *, code: str, redirect_uri: str, verifier: str
) -> TokenSet:
    """Trade an authorization code (with its PKCE verifier) for tokens."""
    try:
        with _client(ep, client, redirect_uri) as c:
            tok = c.fetch_token(
                ep.token_url, grant_type="authorization_code", code=code, code_verifier=verifier
            )
    except Exception as exc:
        raise _fail(exc) from None
    return TokenSet.from_response(dict(tok))


def refresh(ep: Endpoints, client: ClientCreds, *, refresh_token: str) -> TokenSet:
    """Spend a refresh token. A provider that rotates answers a new one; one that does not
    answers none, and the caller keeps the old one (SECURITY 17)."""
    try:
        with _client(ep, client) as c:
            tok = c.refresh_token(ep.token_url, refresh_token=refresh_token)
    except Exception as exc:
        raise _fail(exc) from None
    return TokenSet.from_response(dict(tok))


def revoke(ep: Endpoints, client: ClientCreds, *, token: str, hint: str) -> bool:
    """Revoke a token at the provider (RFC 7009) when it has an endpoint; True when it said ok."""
    if not ep.revoke_url:
        return False
    try:
        with _client(ep, client) as c:
            resp = c.revoke_token(ep.revoke_url, token=token, token_type_hint=hint)
    except Exception:
        return False
    return bool(resp.status_code < 300)


def id_token_claims(id_token: str | None) -> dict[str, Any]:
    """The claims of an ID token received straight from the token endpoint.

    OpenID Connect Core 3.1.3.7 lets a client that received the token over TLS from the token
    endpoint skip the signature check; it is used only to name the connected account.
    """
    if not id_token or id_token.count(".") != 2:
        return {}
    payload = id_token.split(".")[1]
    try:
        got = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return {}
    return got if isinstance(got, dict) else {}
