"""Registry logic (no HTTP): sync the catalog into the tables, look things up, capabilities."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, NoReturn
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from hub.core.errors import HubError
from hub.registry.capabilities import build_capabilities
from hub.registry.models import Integration, Tool, ToolDomain, ToolProvider
from hub.registry.spec import CATEGORIES, STATUSES, Catalog, content_hash, spec_dump

__all__ = [
    "SyncReport",
    "build_capabilities",
    "capabilities",
    "get_integration",
    "get_tool",
    "list_integrations",
    "list_tools",
    "providers_for",
    "registry_revision",
    "sync_catalog",
    "tenant_connected",
    "tool_domains",
]


# ---------------------------------------------------------------- sync


@dataclass
class SyncCounts:
    """What a sync did to one kind of row."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deprecated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changes(self) -> int:
        """Rows written."""
        return len(self.inserted) + len(self.updated) + len(self.deprecated) + len(self.removed)


@dataclass
class SyncReport:
    """Outcome of sync_catalog, per kind of row; `skipped` names rows owned by another source."""

    domains: SyncCounts = field(default_factory=SyncCounts)
    integrations: SyncCounts = field(default_factory=SyncCounts)
    tools: SyncCounts = field(default_factory=SyncCounts)
    providers: SyncCounts = field(default_factory=SyncCounts)
    skipped: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """Total rows written."""
        kinds = (self.domains, self.integrations, self.tools, self.providers)
        return sum(c.changes for c in kinds)


def sync_catalog(s: Session, catalog: Catalog) -> SyncReport:
    """Upsert the catalog into the tables (idempotent; flushes, the caller commits)."""
    report = SyncReport()
    _sync_domains(s, catalog, report)
    _sync_integrations(s, catalog, report)
    s.flush()  # bindings reference both integrations and tools
    owned = _sync_tools(s, catalog, report)
    s.flush()
    _sync_providers(s, catalog, owned, report)
    s.flush()
    return report


def _sync_domains(s: Session, catalog: Catalog, report: SyncReport) -> None:
    rows = {r.name: r for r in s.scalars(select(ToolDomain))}
    for spec in catalog.domains:
        h = content_hash(spec_dump(spec))
        row = rows.get(spec.name)
        if row is None:
            s.add(
                ToolDomain(
                    name=spec.name,
                    description=spec.description,
                    status="active",
                    catalog_hash=h,
                    source="seed",
                )
            )
            report.domains.inserted.append(spec.name)
        elif row.source != "seed":
            report.skipped.append(f"domain {spec.name} (owned by {row.source})")
        elif row.catalog_hash != h or row.status != "active":
            row.description, row.status, row.catalog_hash = spec.description, "active", h
            report.domains.updated.append(spec.name)
        else:
            report.domains.unchanged += 1
    names = {d.name for d in catalog.domains}
    for name, row in rows.items():
        if row.source == "seed" and name not in names and row.status != "deprecated":
            row.status = "deprecated"
            report.domains.deprecated.append(name)


def _sync_integrations(s: Session, catalog: Catalog, report: SyncReport) -> None:
    rows = {r.slug: r for r in s.scalars(select(Integration))}
    for spec in catalog.integrations:
        definition = spec_dump(spec)
        h = content_hash(definition)
        values = {
            "name": spec.name,
            "category": spec.category,
            "auth_type": spec.auth_type,
            "status": spec.status,
            "description": spec.description,
            "definition": definition,
            "catalog_hash": h,
        }
        row = rows.get(spec.slug)
        if row is None:
            s.add(Integration(slug=spec.slug, source="seed", **values))
            report.integrations.inserted.append(spec.slug)
        elif row.source != "seed":
            report.skipped.append(f"integration {spec.slug} (owned by {row.source})")
        elif row.catalog_hash != h or row.status != spec.status:
            for k, v in values.items():
                setattr(row, k, v)
            report.integrations.updated.append(spec.slug)
        else:
            report.integrations.unchanged += 1
    slugs = {i.slug for i in catalog.integrations}
    for slug, row in rows.items():
        # Never delete: connections, runs and audit rows still name the slug.
        if row.source == "seed" and slug not in slugs and row.status != "deprecated":
            row.status = "deprecated"
            report.integrations.deprecated.append(slug)


def _sync_tools(s: Session, catalog: Catalog, report: SyncReport) -> set[str]:
    """Upsert tools; returns the names of catalog tools that are seed-owned here."""
    rows = {r.name: r for r in s.scalars(select(Tool))}
    owned: set[str] = set()
    for spec in catalog.tools:
        definition = spec_dump(spec)
        h = content_hash(definition)
        values = {
            "domain": spec.domain,
            "title": spec.title,
            "description": spec.description,
            "permission": spec.permission,
            "input_schema": definition["input_schema"],
            "output_schema": definition["output_schema"],
            "definition": definition,
            "status": "active",
            "catalog_hash": h,
        }
        row = rows.get(spec.name)
        if row is None:
            s.add(Tool(name=spec.name, source="seed", **values))
            report.tools.inserted.append(spec.name)
        elif row.source != "seed":
            report.skipped.append(f"tool {spec.name} (owned by {row.source})")
            continue
        elif row.catalog_hash != h or row.status != "active":
            for k, v in values.items():
                setattr(row, k, v)
            report.tools.updated.append(spec.name)
        else:
            report.tools.unchanged += 1
        owned.add(spec.name)
    names = {t.name for t in catalog.tools}
    for name, row in rows.items():
        if row.source == "seed" and name not in names and row.status != "deprecated":
            row.status = "deprecated"  # bindings (and their live_version) are kept
            report.tools.deprecated.append(name)
    return owned


def _sync_providers(s: Session, catalog: Catalog, owned: set[str], report: SyncReport) -> None:
    rows: dict[tuple[str, str], ToolProvider] = {
        (r.tool_name, r.integration_slug): r
        for r in s.scalars(select(ToolProvider).where(ToolProvider.tool_name.in_(owned)))
    }
    wanted: set[tuple[str, str]] = set()
    for tool in catalog.tools:
        if tool.name not in owned:
            continue
        for p in tool.providers:
            key = (tool.name, p.integration)
            wanted.add(key)
            label = f"{tool.name}:{p.integration}"
            row = rows.get(key)
            if row is None:
                s.add(
                    ToolProvider(
                        tool_name=tool.name,
                        integration_slug=p.integration,
                        workflow=p.workflow,
                        is_default=p.default,
                    )
                )
                report.providers.inserted.append(label)
            elif row.workflow != p.workflow or row.is_default != p.default:
                # live_version is deploy's business: left exactly as it is.
                row.workflow, row.is_default = p.workflow, p.default
                report.providers.updated.append(label)
            else:
                report.providers.unchanged += 1
    for key, row in rows.items():
        if key not in wanted:
            # The tool (still in the files) no longer lists this provider: stop routing to it.
            s.delete(row)
            report.providers.removed.append(f"{key[0]}:{key[1]}")


# ---------------------------------------------------------------- lookups


def _check_choice(name: str, value: str | None, allowed: tuple[str, ...] | list[str]) -> None:
    if value is not None and value not in allowed:
        raise HubError(
            "invalid_request",
            f"Unknown {name} '{value}'. Use one of: {', '.join(allowed)}.",
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


def tool_domains(s: Session) -> dict[str, str]:
    """Every domain in use (active tools or declared domains) -> its description."""
    out = {d.name: d.description for d in s.scalars(select(ToolDomain)) if d.status == "active"}
    for name in s.scalars(select(Tool.domain).where(Tool.status == "active").distinct()):
        out.setdefault(name, "")
    return out


def list_tools(
    s: Session, domain: str | None = None, include_deprecated: bool = False
) -> list[Tool]:
    """Tools ordered by domain and name; deprecated ones only when asked."""
    if domain is not None:
        _check_choice("domain", domain, sorted(tool_domains(s)))
    q = select(Tool).order_by(Tool.domain, Tool.name)
    if domain:
        q = q.where(Tool.domain == domain)
    if not include_deprecated:
        q = q.where(Tool.status == "active")
    return list(s.scalars(q))


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
        f"No tool '{name}' in the registry.{hint} "
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


def tenant_connected(s: Session, tenant_id: str) -> set[str]:
    """Slugs of the tenant's usable connections (empty until the connections domain exists)."""
    try:
        from hub.connections.service import connected_integrations
    except ImportError as e:
        # Only "not written yet" is tolerated; a broken import inside it must surface.
        if e.name in ("hub.connections", "hub.connections.service"):
            return set()
        raise
    return set(connected_integrations(s, tenant_id))


# ---------------------------------------------------------------- capabilities


@dataclass(frozen=True)
class _ProviderView:
    integration: str
    default: bool


@dataclass(frozen=True)
class _ToolView:
    name: str
    domain: str
    title: str
    description: str
    permission: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    providers: tuple[_ProviderView, ...]


@dataclass(frozen=True)
class _IntegrationView:
    slug: str
    name: str
    category: str
    status: str
    auth_type: str


@dataclass(frozen=True)
class _Snapshot:
    revision: str
    integrations: tuple[_IntegrationView, ...]
    tools: tuple[_ToolView, ...]
    domains: dict[str, str]


# Per engine, the last registry snapshot and the revision it was read at.
_snapshots: WeakKeyDictionary[Engine, _Snapshot] = WeakKeyDictionary()


def registry_revision(s: Session) -> str:
    """A cheap fingerprint of the registry tables (row counts and latest updated_at)."""
    cols = []
    for model in (Integration, Tool, ToolProvider, ToolDomain):
        cols.append(select(func.count()).select_from(model).scalar_subquery())
        cols.append(select(func.max(model.updated_at)).scalar_subquery())
    row = s.execute(select(*cols)).one()
    return content_hash([str(v) for v in row])[:16]


def _snapshot(s: Session) -> _Snapshot:
    revision = registry_revision(s)
    bind = s.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    cached = _snapshots.get(engine)
    if cached is not None and cached.revision == revision:
        return cached
    bindings: dict[str, list[_ProviderView]] = {}
    for p in s.scalars(
        select(ToolProvider).order_by(ToolProvider.is_default.desc(), ToolProvider.integration_slug)
    ):
        bindings.setdefault(p.tool_name, []).append(_ProviderView(p.integration_slug, p.is_default))
    tools = tuple(
        _ToolView(
            t.name,
            t.domain,
            t.title,
            t.description,
            t.permission,
            t.input_schema,
            t.output_schema,
            tuple(bindings.get(t.name, ())),
        )
        for t in s.scalars(select(Tool).where(Tool.status == "active"))
    )
    integrations = tuple(
        _IntegrationView(i.slug, i.name, i.category, i.status, i.auth_type)
        for i in s.scalars(select(Integration))
    )
    snap = _Snapshot(revision, integrations, tools, tool_domains(s))
    _snapshots[engine] = snap
    return snap


def capabilities(
    s: Session, connected_slugs: set[str] | None, domain: str | None = None
) -> dict[str, Any]:
    """The capabilities document from the tables (snapshot cached per registry revision)."""
    snap = _snapshot(s)
    out = build_capabilities(
        snap.integrations, snap.tools, connected_slugs, domains=snap.domains, domain=domain
    )
    out["data"]["revision"] = snap.revision
    return out
