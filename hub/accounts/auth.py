"""Bearer-token authentication for REST routes."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from fastapi import Depends, Request

from hub.accounts.service import Caller, cached_caller, resolve_token
from hub.core.errors import HubError


def bearer_from(request: Request) -> str | None:
    """The raw bearer token of a request, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def current_caller(request: Request) -> Caller:
    """Authenticate the request's bearer token (or console session) -> Caller, else 401.

    Async so a token-cache hit costs no thread hop; a miss reads the database in a worker
    thread, in its own short transaction (a request that then awaits a webhook must not hold
    a pooled connection for the whole call).
    """
    raw = bearer_from(request)
    if raw is None:
        session_caller = getattr(request.state, "session_caller", None)
        if session_caller is not None:
            return session_caller
        raise HubError(
            "unauthenticated",
            "Send a bearer token: 'Authorization: Bearer hub_...'. "
            "Create one with `hub tokens create --tenant T --kind agent`.",
        )
    cached = cached_caller(raw)
    if cached is not None:
        request.state.caller = cached
        return cached
    caller = await anyio.to_thread.run_sync(_resolve, request, raw)
    request.state.caller = caller
    return caller


def _resolve(request: Request, raw: str) -> Caller:
    with request.app.state.db.session() as s:
        caller, touched = resolve_token(s, raw)
        if touched:
            # Token use is audited at most once a minute per token (as last_used_at is written).
            from hub.audit.service import record

            record(
                s,
                caller.tenant_id,
                caller.actor,
                "token.used",
                target=caller.token_id,
                details={"kind": caller.kind, "path": request.url.path},
            )
    return caller


def require_kind(*kinds: str) -> Callable[..., Caller]:
    """A dependency that admits only tokens of the given kinds (403 otherwise)."""

    async def _dep(caller: Caller = Depends(current_caller)) -> Caller:
        if caller.kind not in kinds:
            raise HubError(
                "forbidden",
                f"This route needs a token of kind {' or '.join(kinds)}; yours is '{caller.kind}'.",
            )
        return caller

    return _dep


admin_only = require_kind("admin")
admin_or_ops = require_kind("admin", "ops")
