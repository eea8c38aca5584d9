"""Syncing the catalog files into the registry tables (idempotent; seed rows only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.registry.models import Integration, Tool, ToolDomain, ToolProvider
from hub.registry.spec import Catalog, content_hash, spec_dump


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
