"""Response models of the registry routes (they document /docs; no credential values exist here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hub.registry.models import Integration, Tool, ToolProvider


class CredentialFieldOut(BaseModel):
    """A field an admin fills in to connect (its description, never a value)."""

    name: str
    label: str
    type: str
    secret: bool
    required: bool
    help: str
    pattern: str | None = None
    example: str | None = None
    options: list[str] | None = None
    default: str | None = None


class OAuthOut(BaseModel):
    """The vendor's OAuth endpoints and scopes."""

    authorize_url: str
    token_url: str
    scopes: list[str]
    pkce: bool
    refresh: bool


class WebhooksOut(BaseModel):
    """How the vendor signs its webhooks."""

    signature: str
    header: str | None = None
    secret_field: str | None = Field(None, description="Credential field holding the key.")
    docs_url: str | None = None


class CapabilityOut(BaseModel):
    """Something the integration can do."""

    name: str
    description: str


class IntegrationSummary(BaseModel):
    """One integration in a list."""

    slug: str
    name: str
    category: str
    status: str
    auth_type: str
    description: str
    source: str
    connected: bool = Field(description="This tenant has a usable connection to it.")
    tools: list[str]
    docs_url: str | None = None


class IntegrationDetail(IntegrationSummary):
    """One integration with everything needed to connect it."""

    base_url: str | None = None
    credential_fields: list[CredentialFieldOut]
    oauth: OAuthOut | None = None
    webhooks: WebhooksOut | None = None
    capabilities: list[CapabilityOut]
    setup_instructions: str
    created_at: datetime
    updated_at: datetime


class IntegrationList(BaseModel):
    """GET /api/integrations."""

    integrations: list[IntegrationSummary]
    count: int


class ProviderOut(BaseModel):
    """A tool's binding to an integration's workflow."""

    integration: str
    integration_status: str
    workflow: str
    is_default: bool
    live_version: int | None
    connected: bool


class ToolSummary(BaseModel):
    """One tool in a list."""

    name: str
    domain: str
    title: str
    description: str
    permission: str
    status: str
    source: str
    available: bool = Field(description="Some provider of it is connected for this tenant.")
    listed_to_agents: bool = Field(
        default=False,
        description="Agents are offered it: a connected provider whose workflow is deployed.",
    )
    not_listed_reason: str | None = Field(
        default=None, description="Why agents are not offered it, when they are not."
    )
    providers: list[ProviderOut]


class ToolDetail(ToolSummary):
    """One tool with its schemas."""

    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    secret_fields: list[str]
    idempotent_vendor: bool
    route_by: str | None = None


class ToolList(BaseModel):
    """GET /api/tools."""

    tools: list[ToolSummary]
    count: int


class CapabilityProvider(BaseModel):
    """A provider of an action and whether this tenant has it connected."""

    integration: str
    name: str
    status: str
    default: bool
    connected: bool
    deployed: bool = True


class CapabilityAction(BaseModel):
    """A tool, as an action the agent can take."""

    name: str
    title: str
    permission: str
    description: str
    parameters: dict[str, Any]
    returns: dict[str, Any]
    providers: list[CapabilityProvider]
    available: bool
    read_only: bool = False
    unavailable_reason: str | None = None


class CapabilityDomain(BaseModel):
    """A group of actions."""

    domain: str
    description: str
    actions: list[CapabilityAction]


class DataType(BaseModel):
    """Something hub_query can read, with its filters and expandable relations."""

    type: str
    description: str
    filters: list[str]
    includes: list[str]


class CapabilityIntegration(BaseModel):
    """An integration, its status and whether this tenant is connected."""

    slug: str
    name: str
    category: str
    status: str
    auth_type: str
    connected: bool
    tools: list[str]


class CapabilitiesData(BaseModel):
    """The body of the capabilities answer."""

    version: str
    generated_from: str
    revision: str | None = None
    domains: list[CapabilityDomain]
    data_types: list[DataType]
    integrations: list[CapabilityIntegration]


class CapabilitiesResponse(BaseModel):
    """GET /api/capabilities (the shape of the MCP guide's capabilities endpoint)."""

    success: bool
    data: CapabilitiesData


# ---------------------------------------------------------------- row -> response


def integration_summary(
    row: Integration, connected: set[str], tools: list[str]
) -> IntegrationSummary:
    """List item for an integration row."""
    return IntegrationSummary(
        slug=row.slug,
        name=row.name,
        category=row.category,
        status=row.status,
        auth_type=row.auth_type,
        description=row.description,
        source=row.source,
        connected=row.slug in connected,
        tools=tools,
        docs_url=row.definition.get("docs_url"),
    )


def integration_detail(
    row: Integration, connected: set[str], tools: list[str]
) -> IntegrationDetail:
    """Full view of an integration row (definition fields are read defensively)."""
    d = row.definition
    summary = integration_summary(row, connected, tools)
    return IntegrationDetail(
        **summary.model_dump(),
        base_url=d.get("base_url"),
        credential_fields=[
            CredentialFieldOut.model_validate(f) for f in d.get("credential_fields", [])
        ],
        oauth=OAuthOut.model_validate(d["oauth"]) if d.get("oauth") else None,
        webhooks=WebhooksOut.model_validate(d["webhooks"]) if d.get("webhooks") else None,
        capabilities=[CapabilityOut.model_validate(c) for c in d.get("capabilities", [])],
        setup_instructions=d.get("setup_instructions", ""),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def provider_out(p: ToolProvider, statuses: dict[str, str], connected: set[str]) -> ProviderOut:
    """A binding with its integration's status and this tenant's connection state."""
    return ProviderOut(
        integration=p.integration_slug,
        integration_status=statuses.get(p.integration_slug, "unknown"),
        workflow=p.workflow,
        is_default=p.is_default,
        live_version=p.live_version,
        connected=p.integration_slug in connected,
    )


def tool_summary(row: Tool, providers: list[ProviderOut]) -> ToolSummary:
    """List item for a tool row."""
    return ToolSummary(
        name=row.name,
        domain=row.domain,
        title=row.title,
        description=row.description,
        permission=row.permission,
        status=row.status,
        source=row.source,
        available=any(p.connected for p in providers),
        **_listing(providers),
        providers=providers,
    )


def _listing(providers: list[ProviderOut]) -> dict[str, Any]:
    """Whether agents see the tool, and if not, why (for admins)."""
    connected = [p for p in providers if p.connected]
    if any(p.live_version is not None for p in connected):
        return {"listed_to_agents": True, "not_listed_reason": None}
    if not connected:
        why = "No provider of it is connected for this tenant."
    else:
        names = ", ".join(p.workflow for p in connected)
        why = (
            f"The workflow {names} is not deployed to n8n; an operator runs "
            "`hub workflows deploy` (see `hub workflows status`)."
        )
    return {"listed_to_agents": False, "not_listed_reason": why}


def tool_detail(row: Tool, providers: list[ProviderOut]) -> ToolDetail:
    """Full view of a tool row."""
    d = row.definition
    return ToolDetail(
        **tool_summary(row, providers).model_dump(),
        input_schema=row.input_schema,
        output_schema=row.output_schema,
        secret_fields=list(d.get("secret_fields", [])),
        idempotent_vendor=bool(d.get("idempotent_vendor", False)),
        route_by=d.get("route_by"),
    )
