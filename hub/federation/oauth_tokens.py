"""Token endpoint and registration calls for MCP OAuth: code exchange (PKCE verifier and RFC
8707 resource), refresh, and dynamic client registration (RFC 7591). Every call passes the
outbound guard; tokens never appear in errors (the AS's error code does, its body does not)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx2

from hub.core.errors import HubError
from hub.core.outbound import Allow, check_url, guarded_client

_TIMEOUT = httpx2.Timeout(15.0)


@dataclass(frozen=True)
class Client:
    """The hub's client at one authorization server (pre-registered or registered by RFC 7591)."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Tokens:
    """What a token response gave; repr hides every secret."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None


class GrantRevoked(HubError):
    """The AS answered invalid_grant: the consent is gone, an admin must reconnect."""


async def _post(allow: Allow, url: str, data: dict[str, str], client: Client) -> dict[str, Any]:
    check_url(url, allow)
    kwargs: dict[str, Any] = {}
    if client.client_secret:
        kwargs["auth"] = httpx2.BasicAuth(client.client_id, client.client_secret)
    else:
        # A public client (RFC 7591 "none"): the id goes in the form, PKCE proves possession.
        data = {**data, "client_id": client.client_id}
    async with guarded_client(allow, timeout=_TIMEOUT) as http:
        response = await http.post(url, data=data, headers={"Accept": "application/json"}, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        return body
    code = body.get("error") if isinstance(body, dict) else None
    if code == "invalid_grant":
        raise GrantRevoked(
            "auth",
            "The authorization server refused the MCP server's grant (invalid_grant): the "
            "consent was revoked or expired. An admin must reconnect it (Connect (OAuth)).",
        )
    raise HubError(
        "auth",
        f"The authorization server's token endpoint answered {response.status_code}"
        f"{f' ({code})' if isinstance(code, str) else ''}; check the client registration.",
    )


def _tokens(body: dict[str, Any], previous_refresh: str | None = None) -> Tokens:
    expires_in = body.get("expires_in")
    return Tokens(
        access_token=str(body["access_token"]),
        # An AS that does not rotate may omit the refresh token: the old one stays valid.
        refresh_token=body.get("refresh_token") or previous_refresh,
        expires_at=time.time() + float(expires_in) if expires_in else None,
        scope=body.get("scope"),
    )


async def exchange_code(
    allow: Allow,
    token_endpoint: str,
    client: Client,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    resource: str,
) -> Tokens:
    """Trade an authorization code for tokens (PKCE verifier, resource indicator)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
        "resource": resource,
    }
    return _tokens(await _post(allow, token_endpoint, data, client))


async def refresh_tokens(
    allow: Allow, token_endpoint: str, client: Client, *, refresh_token: str, resource: str
) -> Tokens:
    """A fresh access token from a refresh token (raises GrantRevoked on invalid_grant)."""
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "resource": resource}
    return _tokens(await _post(allow, token_endpoint, data, client), refresh_token)


async def register_client(
    allow: Allow, registration_endpoint: str, *, redirect_uri: str, name: str
) -> Client:
    """Dynamic client registration (RFC 7591) for the hub's callback."""
    check_url(registration_endpoint, allow)
    metadata = {
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    async with guarded_client(allow, timeout=_TIMEOUT) as http:
        response = await http.post(registration_endpoint, json=metadata)
    body = response.json() if response.status_code in (200, 201) else {}
    if not isinstance(body, dict) or not body.get("client_id"):
        raise HubError(
            "auth",
            f"Dynamic client registration answered {response.status_code}; register a client "
            "at the authorization server and give its id and secret in auth.client_id/secret.",
        )
    return Client(str(body["client_id"]), body.get("client_secret"))
