"""REST bodies for the authorization queue and overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.core import limits


class DecisionIn(BaseModel):
    """POST /api/authorizations/{id}: Allow Once, Allow Always or Deny."""

    model_config = ConfigDict(extra="forbid")

    # Optional here so another tenant's id answers 404 before the body is judged.
    decision: Literal["authorized", "denied"] | None = None
    notes: str | None = Field(
        None, max_length=limits.NOTE_MAX, description="Sent to the agent on a denial."
    )
    upgrade_permission: bool = Field(
        False, description="Allow Always: also record a narrow override for calls like this one."
    )


class AuthorizationOut(BaseModel):
    """One queued call, its decision and (once run) its outcome."""

    id: str
    queue_id: str
    status: str
    tool: str
    provider: str | None
    agent_token_id: str
    reason: str
    rules: list[str]
    reasoning: str | None
    idempotency_key: str | None
    args: dict[str, Any] | None = None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    notes: str | None
    upgrade_permission: bool
    override_id: str | None
    run_id: str | None
    outcome: dict[str, Any] | None
    message: str


class AuthorizationPage(BaseModel):
    """A page of authorizations, newest first."""

    data: list[AuthorizationOut]
    next_cursor: str | None
    pending: int


class OverrideOut(BaseModel):
    """An Allow Always override and the narrow terms it covers."""

    id: str
    tool: str
    provider: str | None
    terms: dict[str, Any]
    authorization_id: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class OverrideList(BaseModel):
    """GET /api/permission-overrides."""

    data: list[OverrideOut]
