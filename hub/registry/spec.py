"""Pydantic models of the catalog files (one integration, one tool, the whole catalog)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Category = Literal[
    "communication",
    "voice",
    "email",
    "ai",
    "payments",
    "esignature",
    "social",
    "website",
    "advertising",
    "maps",
    "incentives",
    "calendar",
    "crm",
    "project_management",
    "accounting",
    "storage",
    "messaging",
    "custom",
    "mcp",
]
AuthType = Literal["api_key", "oauth2", "webhook_secret", "service_account", "mcp", "n8n_workflow"]
Status = Literal["available", "beta", "planned", "coming_soon", "deprecated"]
Permission = Literal["unrestricted", "soft_limit", "requires_authorization"]
FieldType = Literal["string", "password", "json", "url", "select"]

# Tuples of the closed enums; tests check they equal the JSON Schema's enums.
CATEGORIES: tuple[str, ...] = get_args(Category)
AUTH_TYPES: tuple[str, ...] = get_args(AuthType)
STATUSES: tuple[str, ...] = get_args(Status)
PERMISSIONS: tuple[str, ...] = get_args(Permission)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CredentialField(_Spec):
    """One value an admin enters to connect an integration (never a value itself)."""

    name: str
    label: str
    type: FieldType
    secret: bool
    required: bool
    help: str
    pattern: str | None = None
    example: str | None = None
    options: list[str] | None = None
    default: str | None = None


class OAuthSpec(_Spec):
    """How to run the vendor's OAuth 2 authorization-code flow."""

    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    scopes: list[str]
    scope_separator: Literal[" ", ","] = " "
    pkce: bool
    refresh: bool
    client_auth: Literal["body", "basic"] = "body"
    client_id_param: str = "client_id"
    extra_authorize_params: dict[str, str] = Field(default_factory=dict)
    rotates_refresh_tokens: bool = False
    identity: dict[str, str] = Field(default_factory=dict)
    callback_params: dict[str, str] = Field(default_factory=dict)
    connections_url: str | None = None
    connections_items: str | None = None
    connections_prefer: str | None = None
    connections_fields: dict[str, str] = Field(default_factory=dict)
    base_url_field: str | None = None
    refresh_lead_s: int = 300
    keep_alive_days: int | None = None


class WebhookSpec(_Spec):
    """How the vendor signs the webhooks it sends."""

    signature: str
    header: str | None = None
    secret_field: str | None = None
    docs_url: str | None = None


class Capability(_Spec):
    """A named thing an integration can do, in plain words."""

    name: str
    description: str


class IntegrationSpec(_Spec):
    """One vendor integration as declared in `integrations/<category>.yaml`."""

    slug: str
    name: str
    category: Category
    description: str
    auth_type: AuthType
    credential_fields: list[CredentialField] = Field(default_factory=list)
    base_url: str | None = None
    oauth: OAuthSpec | None = None
    test_call: dict[str, Any] | None = None
    webhooks: WebhookSpec | None = None
    capabilities: list[Capability]
    status: Status
    docs_url: str | None = None
    setup_instructions: str
    tools: list[str] = Field(default_factory=list)


class ProviderSpec(_Spec):
    """A tool's binding to one integration's workflow."""

    integration: str
    workflow: str
    default: bool
    route_values: list[str] | None = None


class ToolSpec(_Spec):
    """One MCP tool as declared in `tools/<domain>.yaml`."""

    name: str
    domain: str
    title: str
    description: str
    permission: Permission
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    secret_fields: list[str] = Field(default_factory=list)
    read_only: bool = False
    # The hub's own tool (verify_credentials): never listed to agents, refused if they call it.
    internal: bool = False
    idempotent_vendor: bool
    # Kept as `paused` while its connection is in error, run when it passes a test.
    pausable: bool = False
    # A multi-step workflow's vendor steps, in order: each finished one is recorded
    # (hub.runs.steps), so a resumed run replays it instead of calling the vendor again.
    steps: list[str] | None = None
    route_by: str | None = None
    providers: list[ProviderSpec]


class DomainSpec(_Spec):
    """A tool domain (the header of a tools file)."""

    name: str
    description: str


class Catalog(_Spec):
    """The whole validated catalog."""

    integrations: list[IntegrationSpec]
    tools: list[ToolSpec]
    domains: list[DomainSpec]

    def integration(self, slug: str) -> IntegrationSpec | None:
        """The integration with this slug, if any."""
        return next((i for i in self.integrations if i.slug == slug), None)

    def tool(self, name: str) -> ToolSpec | None:
        """The tool with this name, if any."""
        return next((t for t in self.tools if t.name == name), None)


def spec_dump(spec: BaseModel) -> dict[str, Any]:
    """The JSON form stored as a row's definition (defaults filled, None left out)."""
    return spec.model_dump(mode="json", exclude_none=True)


def content_hash(data: Any) -> str:
    """SHA-256 of canonical JSON, so formatting changes in YAML do not count as changes."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()
