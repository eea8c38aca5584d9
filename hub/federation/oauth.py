"""OAuth for remote MCP servers, the client side of the MCP authorization spec: protected-
resource metadata (RFC 9728), authorization-server metadata (RFC 8414 / OIDC discovery),
PKCE S256 and the resource indicator (RFC 8707). Every URL fetched here passes the outbound
guard, like the MCP connection itself."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx2

from hub.core.errors import HubError
from hub.core.outbound import Allow, check_url, guarded_client

_RESOURCE_METADATA_RE = re.compile(r'resource_metadata\s*=\s*"?([^",\s]+)"?', re.IGNORECASE)
_TIMEOUT = httpx2.Timeout(15.0)
# An access token with less than this left is refreshed before a call or a listing uses it.
MIN_VALID_S = 30.0
# Fields of the stored grant that are secrets (scrubbed from results); the rest (endpoints,
# the client id, the resource) are kept beside them so a refresh needs no discovery.
SECRET_FIELDS = ("access_token", "refresh_token", "client_secret")


@dataclass(frozen=True)
class AuthServer:
    """What the hub needs from an authorization server's metadata."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None = None
    scopes_supported: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Protected:
    """A server's protected-resource metadata: its canonical resource and where it is issued."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE (verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def canonical_resource(url: str) -> str:
    """The RFC 8707 resource for an MCP URL: scheme and host lower-case, no fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


def resource_metadata_hint(www_authenticate: str | None) -> str | None:
    """The resource_metadata URL a 401's WWW-Authenticate header names, if any."""
    if not www_authenticate:
        return None
    found = _RESOURCE_METADATA_RE.search(www_authenticate)
    return found.group(1) if found else None


def _well_known(url: str, name: str) -> list[str]:
    """RFC 8615 locations for url: path-inserted first, then the origin root."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    candidates = [f"/.well-known/{name}{path}"] if path else []
    candidates.append(f"/.well-known/{name}")
    return [urlunsplit((parts.scheme, parts.netloc, c, "", "")) for c in candidates]


async def _get_json(client: httpx2.AsyncClient, allow: Allow, url: str) -> dict[str, Any] | None:
    check_url(url, allow)
    response = await client.get(url, headers={"Accept": "application/json"})
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def discover_protected(server_url: str, allow: Allow) -> Protected:
    """The server's RFC 9728 metadata: from its 401's hint, else the well-known URLs."""
    async with guarded_client(allow, timeout=_TIMEOUT) as client:
        check_url(server_url, allow)
        probe = await client.post(
            server_url,
            json={"jsonrpc": "2.0", "id": 0, "method": "ping"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        hint = resource_metadata_hint(probe.headers.get("www-authenticate"))
        candidates = ([hint] if hint else []) + _well_known(server_url, "oauth-protected-resource")
        for url in candidates:
            body = await _get_json(client, allow, url)
            servers = body.get("authorization_servers") if body else None
            if body and isinstance(servers, list) and servers:
                return Protected(
                    resource=str(body.get("resource") or canonical_resource(server_url)),
                    authorization_servers=tuple(str(s) for s in servers),
                    scopes_supported=tuple(str(s) for s in body.get("scopes_supported") or ()),
                )
    raise HubError(
        "vendor_unavailable",
        "The MCP server published no protected-resource metadata (RFC 9728) naming an "
        "authorization server; check the URL, or use bearer/header auth with a token it issued.",
    )


async def discover_auth_server(issuer: str, allow: Allow) -> AuthServer:
    """The authorization server's metadata (RFC 8414, then OIDC discovery)."""
    candidates = _well_known(issuer, "oauth-authorization-server") + _well_known(
        issuer, "openid-configuration"
    )
    async with guarded_client(allow, timeout=_TIMEOUT) as client:
        for url in candidates:
            body = await _get_json(client, allow, url)
            if body and body.get("authorization_endpoint") and body.get("token_endpoint"):
                methods = body.get("code_challenge_methods_supported")
                if isinstance(methods, list) and "S256" not in methods:
                    raise HubError(
                        "not_available",
                        f"The authorization server {issuer} does not offer PKCE S256, which "
                        "the MCP authorization spec requires.",
                    )
                return AuthServer(
                    issuer=str(body.get("issuer") or issuer),
                    authorization_endpoint=str(body["authorization_endpoint"]),
                    token_endpoint=str(body["token_endpoint"]),
                    registration_endpoint=body.get("registration_endpoint"),
                    scopes_supported=tuple(str(s) for s in body.get("scopes_supported") or ()),
                    raw=body,
                )
    raise HubError(
        "vendor_unavailable",
        f"No authorization-server metadata found for {issuer} (RFC 8414 or OIDC discovery); "
        "check that the MCP server names a reachable authorization server.",
    )


def authorize_url(
    server: AuthServer,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    challenge: str,
    resource: str,
    scope: str | None = None,
) -> str:
    """The URL an admin visits to consent (code flow, PKCE S256, RFC 8707 resource)."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resource,
    }
    if scope:
        query["scope"] = scope
    sep = "&" if "?" in server.authorization_endpoint else "?"
    return f"{server.authorization_endpoint}{sep}{urlencode(query)}"


def expiring(fields: dict[str, str], within_s: float = MIN_VALID_S) -> bool:
    """Whether the stored access token is missing or expires within `within_s` seconds.

    For tokens that live shorter than twice that, half their lifetime counts instead: a
    lead time longer than the token's life would refresh it on every look."""
    if not fields.get("access_token"):
        return True
    exp = fields.get("expires_at")
    if exp is None:
        return False
    issued = fields.get("refreshed_at")
    if issued is not None:
        within_s = min(within_s, max(0.0, (float(exp) - float(issued)) / 2))
    return float(exp) - time.time() <= within_s


def headers_of(fields: dict[str, str]) -> dict[str, str]:
    """The Authorization header a stored grant gives (none before consent)."""
    token = fields.get("access_token")
    return {"Authorization": f"Bearer {token}"} if token else {}


def secrets_of(fields: dict[str, str]) -> list[str]:
    """The secret values of a stored grant, for scrubbing results and errors."""
    return [fields[k] for k in SECRET_FIELDS if fields.get(k)]


def client_fields(auth: dict[str, Any]) -> dict[str, str]:
    """What a registration's oauth auth puts in the vault: a pre-registered client, if any."""
    fields: dict[str, str] = {}
    client_id = auth.get("client_id")
    if client_id is not None:
        if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > 500:
            raise HubError(
                "invalid_request",
                "auth.client_id must be the client id the authorization server issued to the "
                "hub (leave it out to let the hub register itself where the server allows).",
                details={"field": "auth.client_id"},
            )
        fields.update(client_id=client_id.strip(), client_kind="pre")
        secret = auth.get("client_secret")
        if isinstance(secret, str) and secret:
            fields["client_secret"] = secret
    elif auth.get("client_secret"):
        raise HubError(
            "invalid_request",
            "auth.client_secret needs auth.client_id.",
            details={"field": "auth.client_id"},
        )
    scope = auth.get("scope")
    if scope is not None:
        if not isinstance(scope, str) or len(scope) > 500:
            raise HubError(
                "invalid_request",
                "auth.scope must be a space-separated string of scopes.",
                details={"field": "auth.scope"},
            )
        fields["scope_wanted"] = scope.strip()
    return fields
