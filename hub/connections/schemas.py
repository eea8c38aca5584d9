"""Connection request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.core import limits


class ConnectionCreate(BaseModel):
    """POST /api/connections."""

    model_config = ConfigDict(extra="forbid")

    integration: str = Field(
        description="Integration slug, e.g. 'twilio'.", min_length=1, max_length=64
    )
    credentials: dict[str, Any] = Field(
        default_factory=dict,
        max_length=50,
        description="Credential fields as declared by GET /api/integrations/{slug}.",
    )
    account_label: str = Field("", max_length=limits.LABEL_MAX)
    base_url: str | None = Field(
        None, max_length=limits.URL_MAX, description="Vendor API base URL override (sandbox)."
    )
    config: dict[str, Any] | None = Field(None, max_length=50)


class ConnectionUpdate(BaseModel):
    """PATCH /api/connections/{id}: only the given parts change."""

    model_config = ConfigDict(extra="forbid")

    credentials: dict[str, Any] | None = Field(None, max_length=50)
    account_label: str | None = Field(None, max_length=limits.LABEL_MAX)
    base_url: str | None = Field(None, max_length=limits.URL_MAX)
    config: dict[str, Any] | None = Field(None, max_length=50)


class CredentialHint(BaseModel):
    """A credential field as shown: masked when secret."""

    secret: bool
    hint: str


class TestResult(BaseModel):
    """What Save & Test found: the status it left, whether the vendor was asked, in words."""

    status: str
    tested: bool
    message: str
    run_id: str | None = None


class ConnectionOut(BaseModel):
    """A connection as the API shows it: never a secret value."""

    id: str
    integration: str
    status: str
    account_label: str
    connected_via: str
    base_url: str | None
    credentials: dict[str, CredentialHint]
    webhook_url: str | None = Field(
        None,
        description="Paste into the vendor's webhook settings; None when the integration "
        "sends no webhooks the hub verifies.",
    )
    times_used_by_agent: int
    last_agent_use_at: datetime | None
    last_used_at: datetime | None
    last_error: str | None
    last_error_kind: str | None
    last_error_at: datetime | None
    created_at: datetime
    updated_at: datetime
    test: TestResult | None = Field(
        None,
        description="Save & Test's answer when this response is to a credential save "
        "(create, or PATCH of credentials, base URL or options); None otherwise.",
    )


class ConnectionList(BaseModel):
    """GET /api/connections."""

    data: list[ConnectionOut]
