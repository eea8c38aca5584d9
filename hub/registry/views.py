"""The registry as the capabilities document reads it: a snapshot per registry revision.

Building the document reads every tool, binding and integration; the snapshot is kept per
engine and rebuilt only when registry_revision() (row counts and latest update) moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.core import caches
from hub.registry.models import Integration, Tool, ToolDomain, ToolProvider
from hub.registry.spec import content_hash


@dataclass(frozen=True)
class ProviderView:
    """A tool's provider as capabilities show it."""

    integration: str
    default: bool
    # Whether the binding's workflow is deployed (live_version set): agents are offered
    # only tools they can actually run.
    deployed: bool = True


@dataclass(frozen=True)
class ToolView:
    """An active tool as capabilities show it."""

    name: str
    domain: str
    title: str
    description: str
    permission: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    providers: tuple[ProviderView, ...]
    read_only: bool = False


@dataclass(frozen=True)
class IntegrationView:
    """An integration as capabilities show it."""

    slug: str
    name: str
    category: str
    status: str
    auth_type: str


@dataclass(frozen=True)
class Snapshot:
    """The registry at one revision."""

    revision: str
    integrations: tuple[IntegrationView, ...]
    tools: tuple[ToolView, ...]
    domains: dict[str, str]


# Per engine, the last registry snapshot and the revision it was read at.
_snapshots: WeakKeyDictionary[Engine, Snapshot] = WeakKeyDictionary()
caches.register(_snapshots.clear)


def registry_revision(s: Session) -> str:
    """A cheap fingerprint of the registry tables (row counts and latest updated_at)."""
    cols = []
    for model in (Integration, Tool, ToolProvider, ToolDomain):
        cols.append(select(func.count()).select_from(model).scalar_subquery())
        cols.append(select(func.max(model.updated_at)).scalar_subquery())
    row = s.execute(select(*cols)).one()
    return content_hash([str(v) for v in row])[:16]


def tool_domains(s: Session) -> dict[str, str]:
    """Every domain in use (active tools or declared domains) -> its description."""
    out = {d.name: d.description for d in s.scalars(select(ToolDomain)) if d.status == "active"}
    for name in s.scalars(select(Tool.domain).where(Tool.status == "active").distinct()):
        out.setdefault(name, "")
    for name in internal_domains(s):
        out.pop(name, None)
    return out


def internal_tools(s: Session) -> frozenset[str]:
    """Names of the hub's own tools (`internal: true`): never listed to or callable by agents."""
    return frozenset(
        name
        for name, definition in s.execute(select(Tool.name, Tool.definition))
        if (definition or {}).get("internal")
    )


def internal_domains(s: Session) -> set[str]:
    """Domains holding only internal tools (they are no domain an agent can browse)."""
    shown: set[str] = set()
    hidden: set[str] = set()
    for domain, definition in s.execute(select(Tool.domain, Tool.definition)):
        (hidden if (definition or {}).get("internal") else shown).add(domain)
    return hidden - shown


def snapshot(s: Session) -> Snapshot:
    """The registry as of its current revision (rebuilt only when the revision moved)."""
    revision = registry_revision(s)
    bind = s.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    cached = _snapshots.get(engine)
    if cached is not None and cached.revision == revision:
        return cached
    bindings: dict[str, list[ProviderView]] = {}
    for p in s.scalars(
        select(ToolProvider).order_by(ToolProvider.is_default.desc(), ToolProvider.integration_slug)
    ):
        bindings.setdefault(p.tool_name, []).append(
            ProviderView(p.integration_slug, p.is_default, p.live_version is not None)
        )
    tools = tuple(
        ToolView(
            t.name,
            t.domain,
            t.title,
            t.description,
            t.permission,
            t.input_schema,
            t.output_schema,
            tuple(bindings.get(t.name, ())),
            bool((t.definition or {}).get("read_only", False)),
        )
        for t in s.scalars(select(Tool).where(Tool.status == "active"))
        # The hub's own tools (verify_credentials) are never offered to agents.
        if not (t.definition or {}).get("internal")
    )
    integrations = tuple(
        IntegrationView(i.slug, i.name, i.category, i.status, i.auth_type)
        for i in s.scalars(select(Integration))
    )
    snap = Snapshot(revision, integrations, tools, tool_domains(s))
    _snapshots[engine] = snap
    return snap
