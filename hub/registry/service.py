"""Registry lookups (no HTTP): integrations, tools, their bindings, and capabilities."""

from __future__ import annotations

import difflib
from typing import Any, NoReturn

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.core.errors import HubError
from hub.registry import views
from hub.registry.capabilities import build_capabilities
from hub.registry.models import Integration, Tool, ToolProvider
from hub.registry.spec import CATEGORIES, STATUSES
from hub.registry.views import registry_revision, tool_domains


def _check_choice(name: str, value: str | None, allowed: tuple[str, ...] | list[str]) -> None:
    if value is not None and value not in allowed:
        raise HubError(
            "invalid_request",
            f"Unknown {name}. Use one of: {', '.join(allowed)}.",
            details={"field": name, "allowed": list(allowed)},
        )


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def list_integrations(
    s: Session,
    category: str | None = None,
    status: str | None = None,
    search: str | None = None,
) -> list[Integration]:
    """Integrations, filtered; unknown category/status values are refused by name."""
    _check_choice("category", category, CATEGORIES)
    _check_choice("status", status, STATUSES)
    q = select(Integration).order_by(Integration.category, Integration.name)
    if category:
        q = q.where(Integration.category == category)
    if status:
        q = q.where(Integration.status == status)
    if search and search.strip():
        term = search.strip().lower()
        q = q.where(
            or_(
                *(
                    func.lower(col).contains(term, autoescape=True)
                    for col in (
                        Integration.slug,
                        Integration.name,
                        Integration.description,
                        Integration.category,
                    )
                )
            )
        )
    return list(s.scalars(q))


def get_integration(s: Session, slug: str) -> Integration:
    """One integration by slug, or not_found naming close matches."""
    row = s.get(Integration, slug)
    if row is None:
        hint = _suggest(slug, list(s.scalars(select(Integration.slug))))
        raise HubError(
            "not_found",
            # The submitted value is not echoed: people paste keys into the wrong field.
            f"No integration with that slug in the registry.{hint} "
            "List them with GET /api/integrations or hub_query(type='integrations').",
        )
    return row


def list_tools(
    s: Session, domain: str | None = None, include_deprecated: bool = False
) -> list[Tool]:
    """Tools ordered by domain and name; deprecated ones only when asked."""
    if domain is not None:
        _check_choice("domain", domain, sorted(views.tool_domains(s)))
    q = select(Tool).order_by(Tool.domain, Tool.name)
    if domain:
        q = q.where(Tool.domain == domain)
    if not include_deprecated:
        q = q.where(Tool.status == "active")
    return [t for t in s.scalars(q) if not (t.definition or {}).get("internal")]


def refuse_internal(name: str) -> NoReturn:
    """Refuse an agent's use of one of the hub's own tools, saying what to do instead."""
    raise HubError(
        "forbidden",
        f"{name} is the hub's own Save & Test call, not a tool agents can see or call. "
        "To check a connection's credentials an admin runs POST /api/connections/{id}/test, "
        "the console's Test button or `hub connections test`.",
    )


def get_tool(s: Session, name: str) -> Tool:
    """One tool by name (deprecated ones included), or not_found naming close matches."""
    row = s.get(Tool, name)
    if row is None:
        raise_unknown_tool(s, name)
    return row


def raise_unknown_tool(s: Session, name: str) -> NoReturn:
    """Refuse an unknown tool name, suggesting close ones."""
    hint = _suggest(name, list(s.scalars(select(Tool.name))))
    raise HubError(
        "not_found",
        f"No tool with that name in the registry.{hint} "
        "List them with GET /api/tools or hub_capabilities().",
    )


def providers_for(s: Session, tool_name: str) -> list[ToolProvider]:
    """A tool's bindings, default first, then by integration slug."""
    get_tool(s, tool_name)
    q = (
        select(ToolProvider)
        .where(ToolProvider.tool_name == tool_name)
        .order_by(ToolProvider.is_default.desc(), ToolProvider.integration_slug)
    )
    return list(s.scalars(q))


def list_bindings(s: Session, workflow: str | None = None) -> list[ToolProvider]:
    """Tool -> integration bindings (of one workflow `integration/tool` when given)."""
    q = select(ToolProvider).order_by(ToolProvider.tool_name, ToolProvider.integration_slug)
    if workflow is not None:
        q = q.where(ToolProvider.workflow == workflow)
    return list(s.scalars(q))


def set_live_version(s: Session, workflow: str, version: int) -> list[str]:
    """Point every binding of a workflow at a deployed version; returns the tools moved."""
    moved = []
    for b in list_bindings(s, workflow):
        if b.live_version != version:
            b.live_version = version
            moved.append(b.tool_name)
    return moved


def set_binding_version(s: Session, tool: str, integration: str, version: int | None) -> None:
    """Point one tool's binding to an integration at a deployed workflow version."""
    b = s.scalar(
        select(ToolProvider).where(
            ToolProvider.tool_name == tool, ToolProvider.integration_slug == integration
        )
    )
    if b is not None:
        b.live_version = version


def tools_by_integration(s: Session) -> dict[str, list[str]]:
    """Integration slug -> the names of the tools it provides, sorted."""
    out: dict[str, list[str]] = {}
    q = select(ToolProvider).order_by(ToolProvider.is_default.desc(), ToolProvider.integration_slug)
    hidden = views.internal_tools(s)
    for p in s.scalars(q):
        if p.tool_name not in hidden:
            out.setdefault(p.integration_slug, []).append(p.tool_name)
    return {k: sorted(v) for k, v in out.items()}


def integration_statuses(s: Session) -> dict[str, str]:
    """Integration slug -> catalog status."""
    return {
        slug: status for slug, status in s.execute(select(Integration.slug, Integration.status))
    }


def capabilities(
    s: Session, connected_slugs: set[str] | frozenset[str] | None, domain: str | None = None
) -> dict[str, Any]:
    """The capabilities document from the tables (snapshot cached per registry revision)."""
    snap = views.snapshot(s)
    out = build_capabilities(
        snap.integrations, snap.tools, connected_slugs, domains=snap.domains, domain=domain
    )
    out["data"]["revision"] = snap.revision
    return out


__all__ = [
    "Integration",
    "Tool",
    "ToolProvider",
    "capabilities",
    "get_integration",
    "get_tool",
    "integration_statuses",
    "list_bindings",
    "list_integrations",
    "list_tools",
    "providers_for",
    "raise_unknown_tool",
    "registry_revision",
    "set_binding_version",
    "set_live_version",
    "tool_domains",
    "tools_by_integration",
]
