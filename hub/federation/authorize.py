"""Connecting the hub to an MCP server that needs OAuth, as the MCP authorization spec asks of
clients: find the server's authorization server, pick a client (pre-registered, a client ID
metadata document, or dynamic registration), send an admin to consent (PKCE S256, the RFC
8707 resource, a single-use state), store the tokens in the vault, and keep the access token
fresh: once however many calls find it expiring, re-reading the stored grant once before
giving up on `invalid_grant` (another worker may have rotated it)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy.orm import Session

from hub.accounts.oauth_states import consume_state, create_state
from hub.audit.service import record
from hub.core.errors import HubError
from hub.core.outbound import Allow, parse_allow
from hub.core.settings import Settings
from hub.db.base import utcnow
from hub.db.engine import Database
from hub.federation import oauth, oauth_tokens
from hub.federation.models import McpServer
from hub.federation.oauth import expiring
from hub.federation.service import get_server
from vault import Vault

log = logging.getLogger("hub.federation.oauth")

CALLBACK_PATH = "/oauth/mcp/callback"
CLIENT_METADATA_PATH = "/oauth/mcp/client-metadata.json"
STATE_PREFIX = "mcp:"


def callback_uri(base_url: str) -> str:
    """The redirect URI the hub uses for MCP servers (register it with a pre-made client)."""
    return base_url.rstrip("/") + CALLBACK_PATH


def client_metadata_url(base_url: str) -> str:
    """Where the hub serves its client ID metadata document (its client_id there)."""
    return base_url.rstrip("/") + CLIENT_METADATA_PATH


def client_metadata(base_url: str) -> dict[str, Any]:
    """The hub's client ID metadata document: a public client, PKCE only."""
    return {
        "client_id": client_metadata_url(base_url),
        "client_name": "Agent hub",
        "redirect_uris": [callback_uri(base_url)],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }


# ---------------------------------------------------------------- consent


@dataclass(frozen=True)
class _Server:
    tenant_id: str
    id: str
    name: str
    url: str
    credential_id: str | None
    fields: dict[str, str]


def _load(db: Database, vault: Vault, tenant_id: str, server_id: str) -> _Server:
    with db.session() as s:
        server = get_server(s, tenant_id, server_id)
        if server.auth_type != "oauth":
            raise HubError(
                "invalid_request",
                f"The MCP server '{server.name}' uses {server.auth_type} auth, not OAuth; "
                "there is nothing to authorize.",
            )
        fields = vault.read(s, tenant_id, server.credential_id) if server.credential_id else {}
        return _Server(
            server.tenant_id, server.id, server.name, server.url, server.credential_id, fields
        )


def _store(s: Session, vault: Vault, server: McpServer, fields: dict[str, str]) -> None:
    expires = fields.get("expires_at")
    cred = vault.put(
        s,
        tenant_id=server.tenant_id,
        owner_id=server.id,
        kind="oauth_token",
        fields=fields,
        scopes=(fields.get("scope") or "").split(),
        expires_at=_utc(float(expires)) if expires else None,
        credential_id=server.credential_id,
    )
    server.credential_id = cred.id


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def _client(
    allow: Allow, base_url: str, srv: _Server, asrv: oauth.AuthServer
) -> tuple[oauth_tokens.Client, dict[str, str]]:
    """The client to use at this AS, in the spec's order of preference, and its fields."""
    f = srv.fields
    if f.get("client_kind") == "pre" and f.get("client_id"):
        return oauth_tokens.Client(f["client_id"], f.get("client_secret")), {}
    if f.get("client_kind") == "dcr" and f.get("issuer") == asrv.issuer and f.get("client_id"):
        # Registered here before: reuse it rather than piling up clients at the AS.
        return oauth_tokens.Client(f["client_id"], f.get("client_secret")), {}
    if asrv.raw.get("client_id_metadata_document_supported") is True and base_url.startswith(
        "https://"
    ):
        url = client_metadata_url(base_url)
        return oauth_tokens.Client(url), {"client_id": url, "client_kind": "cimd"}
    if asrv.registration_endpoint:
        made = await oauth_tokens.register_client(
            allow, asrv.registration_endpoint, redirect_uri=callback_uri(base_url), name="Agent hub"
        )
        fields = {"client_id": made.client_id, "client_kind": "dcr"}
        if made.client_secret:
            fields["client_secret"] = made.client_secret
        return made, fields
    raise HubError(
        "not_available",
        f"The authorization server {asrv.issuer} accepts neither client ID metadata documents "
        "(the hub needs an https base URL for those) nor dynamic registration. Register a "
        f"client there with the redirect URI {callback_uri(base_url)}, then give its id (and "
        "secret) as auth.client_id / auth.client_secret.",
    )


def _scope(srv: _Server, protected: oauth.Protected, asrv: oauth.AuthServer) -> str | None:
    if srv.fields.get("scope_wanted"):
        return srv.fields["scope_wanted"]
    wanted = list(protected.scopes_supported)
    # Ask for a refresh token where the AS knows the scope for it: consent once, not hourly.
    if "offline_access" in asrv.scopes_supported and "offline_access" not in wanted:
        wanted.append("offline_access")
    return " ".join(wanted) or None


async def start(
    db: Database,
    vault: Vault,
    settings: Settings,
    *,
    tenant_id: str,
    user_id: str | None,
    actor: str,
    server_id: str,
) -> str:
    """Discover the server's authorization server, settle the client, store a state; the
    URL an admin visits to consent."""
    allow = parse_allow(settings.outbound_allow)
    srv = await anyio.to_thread.run_sync(_load, db, vault, tenant_id, server_id)
    protected = await oauth.discover_protected(srv.url, allow)
    asrv = await oauth.discover_auth_server(protected.authorization_servers[0], allow)
    client, client_new = await _client(allow, settings.base_url, srv, asrv)
    scope = _scope(srv, protected, asrv)
    verifier, challenge = oauth.pkce_pair()
    redirect = callback_uri(settings.base_url)

    def save() -> str:
        with db.session() as s:
            server = get_server(s, tenant_id, srv.id)
            current = vault.read(s, tenant_id, server.credential_id) if server.credential_id else {}
            _store(
                s,
                vault,
                server,
                {
                    **current,
                    **client_new,
                    "issuer": asrv.issuer,
                    "token_endpoint": asrv.token_endpoint,
                    "resource": protected.resource,
                    **({"scope_requested": scope} if scope else {}),
                },
            )
            raw = create_state(
                s,
                tenant_id=tenant_id,
                user_id=user_id,
                actor=actor,
                integration=STATE_PREFIX + srv.id,
                verifier=verifier,
                redirect_uri=redirect,
                connected_via="ui",
            )
            record(
                s,
                tenant_id,
                actor,
                "mcp_server.oauth_started",
                target=srv.id,
                integration=f"mcp:{srv.name}",
                details={
                    "issuer": asrv.issuer,
                    "client": client_new.get("client_kind") or srv.fields.get("client_kind"),
                },
            )
            return raw

    state = await anyio.to_thread.run_sync(save)
    return oauth.authorize_url(
        asrv,
        client_id=client.client_id,
        redirect_uri=redirect,
        state=state,
        challenge=challenge,
        resource=protected.resource,
        scope=scope,
    )


@dataclass(frozen=True)
class Authorized:
    """Who consented to which server."""

    tenant_id: str
    server_id: str
    server_name: str
    actor: str


async def complete(
    db: Database, vault: Vault, settings: Settings, *, params: dict[str, str], callback_url: str
) -> Authorized:
    """The AS's redirect: spend the state, check the redirect URI, trade the code, store."""
    allow = parse_allow(settings.outbound_allow)

    def spend() -> tuple[Any, _Server]:
        with db.session() as s:
            # Spent even when what follows fails: a callback is never replayable.
            st = consume_state(s, params.get("state"))
            tenant_id, actor, slug = st.tenant_id, st.actor, st.integration_slug
            verifier, redirect = st.code_verifier, st.redirect_uri
        if not slug.startswith(STATE_PREFIX):
            raise HubError(
                "invalid_request",
                "This authorization was started for an integration, not an MCP server; it "
                "cannot complete here. Start again from the hub.",
                details={"field": "state"},
            )
        return (tenant_id, actor, verifier, redirect), _load(
            db, vault, tenant_id, slug[len(STATE_PREFIX) :]
        )

    (tenant_id, actor, verifier, redirect), srv = await anyio.to_thread.run_sync(spend)
    if callback_url != redirect:
        raise HubError(
            "invalid_request",
            "The OAuth callback arrived at a redirect URI other than the one the authorization "
            "was started with; redirect URIs must match exactly. Start again from the hub.",
            details={"field": "redirect_uri"},
        )
    if params.get("error"):
        raise HubError(
            "invalid_request",
            f"The authorization server did not authorize the hub for '{srv.name}' "
            f"({params['error'][:60]}). Start again and approve the requested access.",
        )
    code = params.get("code")
    if not code:
        raise HubError(
            "invalid_request",
            "The OAuth callback has no code: start the authorization again.",
            details={"field": "code"},
        )
    f = srv.fields
    tokens = await oauth_tokens.exchange_code(
        allow,
        f["token_endpoint"],
        oauth_tokens.Client(f["client_id"], f.get("client_secret")),
        code=code,
        verifier=verifier,
        redirect_uri=redirect,
        resource=f["resource"],
    )

    def save() -> None:
        with db.session() as s:
            server = get_server(s, tenant_id, srv.id)
            current = vault.read(s, tenant_id, server.credential_id) if server.credential_id else {}
            _store(s, vault, server, _with_tokens(current, tokens))
            was = server.health
            if was == "needs_auth":
                server.health = "pending"
            server.last_error = None
            server.failures = 0
            server.next_refresh_at = utcnow()
            record(
                s,
                tenant_id,
                actor,
                "mcp_server.authorized",
                target=server.id,
                integration=f"mcp:{server.name}",
                details={"scope": tokens.scope, "refresh_token": bool(tokens.refresh_token)},
            )

    await anyio.to_thread.run_sync(save)
    log.info("mcp server authorized", extra={"server_id": srv.id})
    return Authorized(tenant_id, srv.id, srv.name, actor)


def _with_tokens(current: dict[str, str], tokens: oauth_tokens.Tokens) -> dict[str, str]:
    out = {k: v for k, v in current.items() if k not in ("expires_at", "scope")}
    out["access_token"] = tokens.access_token
    if tokens.refresh_token:
        out["refresh_token"] = tokens.refresh_token
    if tokens.expires_at is not None:
        out["expires_at"] = str(tokens.expires_at)
    if tokens.scope:
        out["scope"] = tokens.scope
    out["refreshed_at"] = str(time.time())
    return out


# ---------------------------------------------------------------- keeping the token fresh

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _read(db: Database, vault: Vault, tenant_id: str, server_id: str) -> dict[str, str]:
    with db.session() as s:
        server = s.get(McpServer, server_id)
        if server is None or server.tenant_id != tenant_id or not server.credential_id:
            return {}
        return vault.read(s, tenant_id, server.credential_id)


def _needs_auth(db: Database, tenant_id: str, server_id: str, reason: str) -> HubError:
    with db.session() as s:
        server = s.get(McpServer, server_id)
        if server is not None and server.tenant_id == tenant_id:
            was = server.health
            server.health = "needs_auth"
            server.last_error = reason
            if was != "needs_auth":
                record(
                    s,
                    tenant_id,
                    "hub:oauth",
                    "mcp_server.health",
                    target=server.id,
                    integration=f"mcp:{server.name}",
                    success=False,
                    error_message=reason,
                    details={"from": was, "to": "needs_auth"},
                )
    return HubError("not_connected", reason)


def _swap(
    db: Database,
    vault: Vault,
    tenant_id: str,
    server_id: str,
    spent: str,
    tokens: oauth_tokens.Tokens,
) -> dict[str, str]:
    """Store a refreshed grant unless another process already replaced the one we spent
    (then theirs is current); the rotated refresh token is written with its access token."""
    with db.session() as s:
        server = s.get(McpServer, server_id)
        if server is None or server.credential_id is None:
            raise HubError("not_connected", "The MCP server was removed.")
        current = vault.read(s, tenant_id, server.credential_id)
        if current.get("refresh_token") not in (spent, None):
            return current
        new = _with_tokens(current, tokens)
        if not tokens.refresh_token:
            new["refresh_token"] = spent  # an AS that does not rotate keeps the old one valid
        _store(s, vault, server, new)
        return new


async def current(
    db: Database,
    vault: Vault,
    settings: Settings,
    tenant_id: str,
    server_id: str,
    *,
    force: bool = False,
    min_valid_s: float = oauth.MIN_VALID_S,
) -> dict[str, str]:
    """The server's grant with an access token valid `min_valid_s` longer: refreshed if
    needed, once for every concurrent caller in this process."""
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.setdefault(server_id, asyncio.Lock())
    async with lock:
        fields = await anyio.to_thread.run_sync(_read, db, vault, tenant_id, server_id)
        if not force and not expiring(fields, min_valid_s):
            return fields
        name = server_id
        spent = fields.get("refresh_token")
        if not fields.get("access_token") or not spent:
            if fields.get("access_token") and not expiring(fields, 0):
                return fields
            raise await anyio.to_thread.run_sync(
                _needs_auth,
                db,
                tenant_id,
                server_id,
                "The hub holds no usable OAuth token for this MCP server: an admin must "
                "authorize it (MCP servers > Authorize).",
            )
        allow = parse_allow(settings.outbound_allow)
        client = oauth_tokens.Client(fields["client_id"], fields.get("client_secret"))
        for attempt in (1, 2):
            try:
                tokens = await oauth_tokens.refresh_tokens(
                    allow,
                    fields["token_endpoint"],
                    client,
                    refresh_token=spent,
                    resource=fields["resource"],
                )
            except oauth_tokens.GrantRevoked:
                if attempt == 2:
                    break
                # Another worker may have rotated it while we asked: re-read once (SECURITY 18).
                again = await anyio.to_thread.run_sync(_read, db, vault, tenant_id, server_id)
                if again.get("refresh_token") in (spent, None):
                    break
                if not expiring(again, min_valid_s):
                    return again
                fields, spent = again, again["refresh_token"]
                continue
            except HubError:
                if not expiring(fields, 0):
                    return fields  # the AS is down but the token still works: use it
                raise
            fresh = await anyio.to_thread.run_sync(
                _swap, db, vault, tenant_id, server_id, spent, tokens
            )
            log.info(
                "mcp oauth token refreshed",
                extra={"server_id": name, "rotated": tokens.refresh_token not in (None, spent)},
            )
            return fresh
        raise await anyio.to_thread.run_sync(
            _needs_auth,
            db,
            tenant_id,
            server_id,
            "The authorization server refused the hub's refresh token (invalid_grant): the "
            "consent was revoked or expired. An admin must authorize the server again "
            "(MCP servers > Authorize).",
        )


# Tokens with less than this left are refreshed by the scheduler, ahead of any call.
LEAD_S = 300.0


def refresh_expiring(db: Database, vault: Vault, settings: Settings) -> int:
    """Refresh every authorized OAuth server's token that expires within LEAD_S (the
    scheduler's job, so a call rarely waits for the token endpoint); returns how many."""
    with db.session() as s:
        rows = [
            (m.tenant_id, m.id, vault.read(s, m.tenant_id, m.credential_id))
            for m in s.query(McpServer).filter(
                McpServer.auth_type == "oauth",
                McpServer.credential_id.is_not(None),
                McpServer.health != "needs_auth",
            )
            if m.credential_id
        ]
    done = 0
    for tenant_id, server_id, fields in rows:
        if not fields.get("refresh_token") or not expiring(fields, LEAD_S):
            continue
        try:
            anyio.run(
                functools.partial(
                    current, db, vault, settings, tenant_id, server_id, min_valid_s=LEAD_S
                )
            )
            done += 1
        except HubError:
            continue  # recorded on the server (needs_auth) or retried on the next run
    return done
