"""Build the `hub_capabilities` answer from registry data. Pure: no database, no I/O.

The shape: domains -> actions with parameters and permission, plus the data types
hub_query can read. It is always computed from the registry, never written by hand, so it
cannot go stale.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from hub.core.errors import HubError

CAPABILITIES_VERSION = "1.0"

# What hub_query can read. These describe the hub's own query surface (not vendor data), so
# they live here beside the builder rather than in the seed files.
DATA_TYPES: tuple[dict[str, Any], ...] = (
    {
        "type": "integrations",
        "description": "Catalog integrations, their status, and whether this tenant is connected.",
        "filters": ["category", "status", "auth_type", "connected", "search"],
        "includes": ["tools", "capabilities", "credential_fields", "setup_instructions"],
    },
    {
        "type": "connections",
        "description": "This tenant's connections and their health (never credential values).",
        "filters": ["integration", "status"],
        "includes": ["integration", "health", "credential_hints"],
    },
    {
        "type": "tools",
        "description": "Tools, their schemas, permission and providers.",
        "filters": ["domain", "permission", "integration", "available"],
        "includes": ["providers", "input_schema", "output_schema"],
    },
    {
        "type": "runs",
        "description": "Tool calls made by this tenant's agents and their outcomes.",
        "filters": ["tool", "integration", "status", "agent", "since", "until"],
        "includes": ["args", "result", "error", "events"],
    },
    {
        "type": "authorizations",
        "description": "Calls queued for a human decision, and the decisions.",
        "filters": ["status", "tool", "agent", "since", "until"],
        "includes": ["args", "reasoning", "decision", "run"],
    },
    {
        "type": "events",
        "description": "Inbound vendor webhooks (payments, signatures, inbound SMS) and their "
        "delivery state.",
        "filters": ["provider", "type", "status", "since", "until"],
        "includes": ["payload", "result"],
    },
    {
        "type": "audit",
        "description": "The tenant's audit log.",
        "filters": ["action", "actor", "integration", "target", "success", "since", "until"],
        "includes": ["details"],
    },
)


class IntegrationLike(Protocol):
    """What the builder reads from an integration (a catalog spec, a row or a view)."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def auth_type(self) -> str: ...


class ProviderLike(Protocol):
    """What the builder reads from a tool's provider."""

    @property
    def integration(self) -> str: ...
    @property
    def default(self) -> bool: ...


class ToolLike(Protocol):
    """What the builder reads from a tool."""

    @property
    def name(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def permission(self) -> str: ...
    @property
    def input_schema(self) -> dict[str, Any]: ...
    @property
    def output_schema(self) -> dict[str, Any]: ...
    @property
    def providers(self) -> Sequence[ProviderLike]: ...


def _unavailable(providers: list[dict[str, Any]]) -> dict[str, str]:
    """Why a tool whose provider is connected is still not offered (its workflow)."""
    connected = [p for p in providers if p["connected"]]
    if connected and not any(p["deployed"] for p in connected):
        names = ", ".join(p["integration"] for p in connected)
        return {
            "unavailable_reason": f"The workflow of {names} for this tool is not deployed to "
            "n8n, so agents are not offered it; an operator runs `hub workflows deploy`."
        }
    return {}


def build_capabilities(
    integrations: Iterable[IntegrationLike],
    tools: Iterable[ToolLike],
    connected: set[str] | frozenset[str] | None,
    *,
    domains: Mapping[str, str] | None = None,
    domain: str | None = None,
) -> dict[str, Any]:
    """The capabilities document; `connected` is the tenant's connected slugs (None: none)."""
    linked = frozenset(connected or ())
    by_slug = {i.slug: i for i in integrations}
    descriptions = dict(domains or {})
    actions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    powers: dict[str, list[str]] = defaultdict(list)
    for tool in tools:
        if getattr(tool, "internal", False):
            continue  # the hub's own tools (verify_credentials) are never offered to agents
        providers = []
        for p in tool.providers:
            integ = by_slug.get(p.integration)
            providers.append(
                {
                    "integration": p.integration,
                    "name": integ.name if integ else p.integration,
                    "status": integ.status if integ else "unknown",
                    "default": p.default,
                    "connected": p.integration in linked,
                    # A YAML catalog knows no deployments: its bindings count as deployed.
                    "deployed": bool(getattr(p, "deployed", True)),
                }
            )
            powers[p.integration].append(tool.name)
        actions[tool.domain].append(
            {
                "name": tool.name,
                "title": tool.title,
                "permission": tool.permission,
                "read_only": bool(getattr(tool, "read_only", False)),
                "description": tool.description,
                # Copies: callers may mutate the answer; the inputs may be cached rows.
                "parameters": copy.deepcopy(tool.input_schema),
                "returns": copy.deepcopy(tool.output_schema),
                "providers": providers,
                "available": any(p["connected"] and p["deployed"] for p in providers),
                **_unavailable(providers),
            }
        )
    if domain is not None and domain not in actions:
        known = ", ".join(sorted(actions)) or "(none)"
        raise HubError(
            "invalid_request",
            f"Unknown domain. Use one of: {known}; or omit domain for all.",
            details={"field": "domain", "allowed": sorted(actions)},
        )
    shown = sorted(d for d in actions if domain in (None, d))
    shown_tools = {a["name"] for d in shown for a in actions[d]}
    return {
        "success": True,
        "data": {
            "version": CAPABILITIES_VERSION,
            "generated_from": "registry",
            "domains": [
                {
                    "domain": d,
                    "description": descriptions.get(d) or f"Tools in the {d} domain.",
                    "actions": sorted(actions[d], key=lambda a: a["name"]),
                }
                for d in shown
            ],
            "data_types": copy.deepcopy(list(DATA_TYPES)),
            "integrations": [
                {
                    "slug": i.slug,
                    "name": i.name,
                    "category": i.category,
                    "status": i.status,
                    "auth_type": i.auth_type,
                    "connected": i.slug in linked,
                    "tools": sorted(t for t in powers.get(i.slug, []) if t in shown_tools),
                }
                for i in sorted(by_slug.values(), key=lambda i: (i.category, i.slug))
                if domain is None or any(t in shown_tools for t in powers.get(i.slug, []))
            ],
        },
    }
