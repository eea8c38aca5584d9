"""Authentication: the one function every edge calls (REST, console, MCP over HTTP, stdio).

A bearer token or a console session cookie becomes a Caller, or a 401/403 HubError. Token use
is audited here and only here, at most once a minute per token (as last_used_at is written),
with the transport it came over. Console sessions are audited at sign-in (hub.web).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import anyio
from fastapi import Request
from sqlalchemy.orm import Session

from hub.accounts import sessions
from hub.accounts.service import cached_caller, resolve_token
from hub.audit.service import record
from hub.core.callers import Caller, check_kind
from hub.core.errors import HubError
from hub.db.engine import Database

Transport = Literal["rest", "console", "mcp-http", "mcp-stdio"]

# MCP serves agents; a person's admin token belongs on the REST API.
_MCP_HINT = " MCP serves agents: admin and ops tokens work with the REST API."

MISSING_BEARER = (
    "Send a bearer token: 'Authorization: Bearer hub_...'. "
    "Create one with `hub tokens create --tenant T --kind agent`."
)


@dataclass(frozen=True)
class Credential:
    """What a request presented: a bearer token or a console session cookie."""

    kind: Literal["bearer", "session"]
    value: str


def authenticate(
    s: Session,
    credential: Credential | None,
    *,
    transport: Transport,
    path: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> Caller:
    """The caller a credential stands for (kinds: admit only these token kinds)."""
    if credential is None:
        raise HubError("unauthenticated", MISSING_BEARER)
    if credential.kind == "session":
        caller = sessions.load(s, credential.value)
        if caller is None:
            raise HubError("unauthenticated", "The console session is missing or has ended.")
    else:
        caller, touched = resolve_token(s, credential.value)
        if touched:
            details: dict[str, str] = {"kind": caller.kind, "transport": transport}
            if path:
                details["path"] = path
            record(
                s,
                caller.tenant_id,
                caller.actor,
                "token.used",
                target=caller.token_id,
                details=details,
            )
    if kinds is not None:
        check_kind(caller, kinds, _MCP_HINT if transport.startswith("mcp") else "")
    return caller


async def authenticate_bearer(
    db: Database,
    raw: str | None,
    *,
    transport: Transport,
    path: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> Caller:
    """authenticate() for a bearer token from async code: a token resolved in the last
    seconds costs no thread hop; otherwise the database is read in a worker thread, in its
    own short transaction (a caller that then awaits a webhook holds no pooled connection)."""
    if raw is None:
        raise HubError("unauthenticated", MISSING_BEARER)
    cached = cached_caller(raw)
    if cached is not None:
        if kinds is not None:
            check_kind(cached, kinds, _MCP_HINT if transport.startswith("mcp") else "")
        return cached

    def _resolve() -> Caller:
        with db.session() as s:
            return authenticate(
                s, Credential("bearer", raw), transport=transport, path=path, kinds=kinds
            )

    return await anyio.to_thread.run_sync(_resolve)


def bearer_of(authorization: str | None) -> str | None:
    """The raw bearer token in an Authorization header value, if any."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class HttpAuthenticator:
    """The REST authenticator the app factory installs (hub.core.callers)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, request: Request) -> Caller:
        """Authenticate a REST request's bearer token."""
        raw = bearer_of(request.headers.get("authorization"))
        return await authenticate_bearer(self.db, raw, transport="rest", path=request.url.path)
