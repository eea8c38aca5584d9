"""Who is calling: the Caller every domain reads, and the HTTP dependencies that produce it.

Routes of every domain depend on `current_caller` and `require_kind` from here rather than
on the accounts domain, so any domain can have routes without importing accounts (which
itself records audit rows). The app factory installs the one authenticator
(hub.accounts.auth) on `app.state.authenticator`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Depends, Request

from hub.core.errors import HubError


@dataclass(frozen=True)
class ConsoleIdentity:
    """What a console session adds to its caller: the person, their role, the form secret."""

    session_id: str
    csrf_secret: str
    email: str
    role: str
    tenant_name: str


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant, the token kind (or the role's equivalent) and identity."""

    tenant_id: str
    kind: str
    token_id: str | None = None
    user_id: str | None = None
    name: str = ""
    console: ConsoleIdentity | None = None

    @property
    def actor(self) -> str:
        """A short label for audit rows: 'token:tok_..', 'user:usr_..', or the hub's own name
        for a system caller ('hub:save-and-test')."""
        if self.user_id:
            return f"user:{self.user_id}"
        if self.kind == "system" and self.name:
            return self.name
        return f"token:{self.token_id}"


class Authenticator(Protocol):
    """Turns a request's bearer token into a Caller (401/403 HubError otherwise)."""

    def __call__(self, request: Request) -> Awaitable[Caller]: ...


async def current_caller(request: Request) -> Caller:
    """The request's authenticated caller (a FastAPI dependency; 401 without a token)."""
    known = getattr(request.state, "caller", None)
    if isinstance(known, Caller):
        return known
    authenticator: Authenticator = request.app.state.authenticator
    caller = await authenticator(request)
    request.state.caller = caller
    return caller


def require_kind(*kinds: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that admits only tokens of the given kinds (403 otherwise)."""

    async def _dep(caller: Caller = Depends(current_caller)) -> Caller:
        check_kind(caller, kinds)
        return caller

    return _dep


def check_kind(caller: Caller, kinds: tuple[str, ...], hint: str = "") -> None:
    """Refuse a caller whose token kind is not one of `kinds` (hint: what to use instead)."""
    if caller.kind not in kinds:
        raise HubError(
            "forbidden",
            f"This route needs a token of kind {' or '.join(kinds)}; yours is "
            f"'{caller.kind}'.{hint}",
        )


admin_only = require_kind("admin")
admin_or_ops = require_kind("admin", "ops")
