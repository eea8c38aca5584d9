"""What each kind of caller may read: one policy, applied by REST, hub_query and the console.

Agents read what they act with (the catalog, the tenant's connections as masked hints, runs,
their own queued calls); the audit log, which records people's and tokens' administration
(tokens created and revoked, connections removed), is for admins and ops only. Row-level
rules (an agent sees only its own authorizations) stay with the domain that owns the rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends

from hub.core.callers import Caller, current_caller
from hub.core.errors import HubError

EVERYONE = ("agent", "ops", "admin", "member")

READERS: dict[str, tuple[str, ...]] = {
    "integrations": EVERYONE,
    "tools": EVERYONE,
    "connections": EVERYONE,
    "runs": EVERYONE,
    "authorizations": EVERYONE,
    "events": EVERYONE,
    "audit": ("admin", "ops"),
}


def may_read(kind: str, data_type: str) -> bool:
    """Whether a caller of this kind may read this type of record."""
    return kind in READERS.get(data_type, ())


def check_read(caller: Caller, data_type: str) -> None:
    """Refuse a read this caller's kind may not make (403, naming who may)."""
    if not may_read(caller.kind, data_type):
        allowed = " or ".join(READERS.get(data_type, ()))
        raise HubError(
            "forbidden",
            f"Reading {data_type} needs a token of kind {allowed}; yours is '{caller.kind}'.",
        )


def readable(kind: str) -> list[str]:
    """The record types a caller of this kind may read."""
    return [t for t, kinds in READERS.items() if kind in kinds]


def reader(data_type: str) -> Callable[..., Awaitable[Caller]]:
    """A REST dependency admitting the callers that may read this type of record."""

    async def _dep(caller: Caller = Depends(current_caller)) -> Caller:
        check_read(caller, data_type)
        return caller

    return _dep


def visible_data_types(kind: str, data_types: list[dict[str, object]]) -> list[dict[str, object]]:
    """The capabilities document's data_types a caller of this kind may read."""
    return [d for d in data_types if may_read(kind, str(d.get("type")))]
