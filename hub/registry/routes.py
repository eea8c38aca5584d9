"""HTTP routes of the registry: integrations, tools and capabilities (read-only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounts.auth import current_caller
from hub.accounts.service import Caller
from hub.db.deps import get_session
from hub.registry import service
from hub.registry.models import Integration, ToolProvider
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

router = APIRouter(tags=["registry"])


def _bindings(s: Session) -> list[ToolProvider]:
    q = select(ToolProvider).order_by(ToolProvider.is_default.desc(), ToolProvider.integration_slug)
    return list(s.scalars(q))


def _tools_by_integration(s: Session) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in _bindings(s):
        out.setdefault(p.integration_slug, []).append(p.tool_name)
    return {k: sorted(v) for k, v in out.items()}


def _providers_by_tool(s: Session, connected: set[str]) -> dict[str, list[ProviderOut]]:
    statuses = {
        slug: status for slug, status in s.execute(select(Integration.slug, Integration.status))
    }
    out: dict[str, list[ProviderOut]] = {}
    for p in _bindings(s):
        out.setdefault(p.tool_name, []).append(provider_out(p, statuses, connected))
    return out


@router.get("/api/integrations", response_model=IntegrationList)
def list_integrations(
    category: str | None = Query(None, description="Filter by category, e.g. payments."),
    status: str | None = Query(None, description="Filter by status, e.g. available."),
    search: str | None = Query(None, description="Text in slug, name or description."),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> IntegrationList:
    """Integrations in the catalog, with this tenant's connection state."""
    rows = service.list_integrations(s, category=category, status=status, search=search)
    connected = service.tenant_connected(s, caller.tenant_id)
    tools = _tools_by_integration(s)
    items = [integration_summary(r, connected, tools.get(r.slug, [])) for r in rows]
    return IntegrationList(integrations=items, count=len(items))


@router.get("/api/integrations/{slug}", response_model=IntegrationDetail)
def get_integration(
    slug: str,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> IntegrationDetail:
    """One integration: credential fields, OAuth, webhooks, setup instructions."""
    row = service.get_integration(s, slug)
    connected = service.tenant_connected(s, caller.tenant_id)
    return integration_detail(row, connected, _tools_by_integration(s).get(slug, []))


@router.get("/api/tools", response_model=ToolList)
def list_tools(
    domain: str | None = Query(None, description="Filter by domain, e.g. messaging."),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> ToolList:
    """Active tools with their providers and whether this tenant can use them."""
    rows = service.list_tools(s, domain=domain)
    providers = _providers_by_tool(s, service.tenant_connected(s, caller.tenant_id))
    items = [tool_summary(r, providers.get(r.name, [])) for r in rows]
    return ToolList(tools=items, count=len(items))


@router.get("/api/tools/{name}", response_model=ToolDetail)
def get_tool(
    name: str,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> ToolDetail:
    """One tool with its input and output JSON Schemas."""
    row = service.get_tool(s, name)
    providers = _providers_by_tool(s, service.tenant_connected(s, caller.tenant_id))
    return tool_detail(row, providers.get(name, []))


@router.get("/api/capabilities", response_model=CapabilitiesResponse)
def get_capabilities(
    domain: str | None = Query(None, description="Only this domain's actions."),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> CapabilitiesResponse:
    """Every domain, action, schema and permission, generated from the registry."""
    connected = service.tenant_connected(s, caller.tenant_id)
    return CapabilitiesResponse.model_validate(service.capabilities(s, connected, domain=domain))
