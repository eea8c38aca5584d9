"""REST: the catalog as one tenant sees it (integrations, tools, capabilities).

The registry (hub.registry) is global; what a tenant sees of it adds whether each
integration is connected here and which tools it can use, so these routes are served by the
domain that knows the tenant's connections.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from hub.connections.service import connected_integrations
from hub.core.callers import Caller, current_caller
from hub.core.limits import NameParam, SearchParam
from hub.core.reads import visible_data_types
from hub.db.deps import get_session
from hub.registry import service as registry
from hub.registry.schemas import (
    CapabilitiesResponse,
    IntegrationDetail,
    IntegrationList,
    ProviderOut,
    ToolDetail,
    ToolList,
    integration_detail,
    integration_summary,
    provider_out,
    tool_detail,
    tool_summary,
)
from hub.registry.spec import Category, Status

router = APIRouter(tags=["registry"])


def _providers_by_tool(s: Session, connected: set[str]) -> dict[str, list[ProviderOut]]:
    statuses = registry.integration_statuses(s)
    out: dict[str, list[ProviderOut]] = {}
    bindings = sorted(
        registry.list_bindings(s), key=lambda b: (not b.is_default, b.integration_slug)
    )
    for p in bindings:
        out.setdefault(p.tool_name, []).append(provider_out(p, statuses, connected))
    return out


@router.get("/api/integrations", response_model=IntegrationList)
def list_integrations(
    category: Category | None = Query(None, description="Filter by category, e.g. payments."),
    status: Status | None = Query(None, description="Filter by status, e.g. available."),
    search: SearchParam | None = Query(None, description="Text in slug, name or description."),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> IntegrationList:
    """Integrations in the catalog, with this tenant's connection state."""
    rows = registry.list_integrations(s, category=category, status=status, search=search)
    connected = connected_integrations(s, caller.tenant_id)
    tools = registry.tools_by_integration(s)
    items = [integration_summary(r, connected, tools.get(r.slug, [])) for r in rows]
    return IntegrationList(integrations=items, count=len(items))


@router.get("/api/integrations/{slug}", response_model=IntegrationDetail)
def get_integration(
    slug: NameParam,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> IntegrationDetail:
    """One integration: credential fields, OAuth, webhooks, setup instructions."""
    row = registry.get_integration(s, slug)
    connected = connected_integrations(s, caller.tenant_id)
    return integration_detail(row, connected, registry.tools_by_integration(s).get(slug, []))


@router.get("/api/tools", response_model=ToolList)
def list_tools(
    domain: NameParam | None = Query(None, description="Filter by domain, e.g. messaging."),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> ToolList:
    """Active tools with their providers and whether this tenant can use them."""
    rows = registry.list_tools(s, domain=domain)
    providers = _providers_by_tool(s, connected_integrations(s, caller.tenant_id))
    items = [tool_summary(r, providers.get(r.name, [])) for r in rows]
    return ToolList(tools=items, count=len(items))


@router.get("/api/tools/{name}", response_model=ToolDetail)
def get_tool(
    name: NameParam,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> ToolDetail:
    """One tool with its input and output JSON Schemas."""
    row = registry.get_tool(s, name)
    if (row.definition or {}).get("internal"):
        registry.refuse_internal(name)
    providers = _providers_by_tool(s, connected_integrations(s, caller.tenant_id))
    return tool_detail(row, providers.get(name, []))


@router.get("/api/capabilities", response_model=CapabilitiesResponse)
def get_capabilities(
    domain: NameParam | None = Query(None, description="Only this domain's actions."),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> CapabilitiesResponse:
    """Every domain, action, schema and permission, generated from the registry."""
    connected = connected_integrations(s, caller.tenant_id)
    doc = registry.capabilities(s, connected, domain=domain)
    doc["data"]["data_types"] = visible_data_types(caller.kind, doc["data"]["data_types"])
    return CapabilitiesResponse.model_validate(doc)
