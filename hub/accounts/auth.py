"""Bearer-token authentication for REST routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hub.accounts.service import Caller, resolve_token
from hub.core.errors import HubError
from hub.db.deps import get_session


def bearer_from(request: Request) -> str | None:
    """The raw bearer token of a request, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def current_caller(request: Request, s: Session = Depends(get_session)) -> Caller:
    """Authenticate the request's bearer token (or console session) -> Caller, else 401."""
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
    caller, touched = resolve_token(s, raw)
    if touched:
        # Token use is audited at most once a minute per token (same cadence as last_used_at).
        from hub.audit.service import record

        record(
            s,
            caller.tenant_id,
            caller.actor,
            "token.used",
            target=caller.token_id,
            details={"kind": caller.kind, "path": request.url.path},
        )
    request.state.caller = caller
    return caller


def require_kind(*kinds: str) -> Callable[..., Caller]:
    """A dependency that admits only tokens of the given kinds (403 otherwise)."""

    def _dep(caller: Caller = Depends(current_caller)) -> Caller:
        if caller.kind not in kinds:
            raise HubError(
                "forbidden",
                f"This route needs a token of kind {' or '.join(kinds)}; yours is '{caller.kind}'.",
            )
        return caller

    return _dep


any_caller = current_caller
admin_only = require_kind("admin")
admin_or_ops = require_kind("admin", "ops")
