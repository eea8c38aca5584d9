"""REST routes for the caller's identity and the tenant's tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.accounts import service
from hub.accounts.models import Tenant
from hub.audit.service import record
from hub.core import limits
from hub.core.callers import Caller, admin_only, current_caller
from hub.core.limits import IdParam
from hub.db.deps import get_session

router = APIRouter(prefix="/api", tags=["accounts"])


class Me(BaseModel):
    """Who the token belongs to."""

    tenant_id: str
    tenant_slug: str
    kind: str
    token_id: str | None


class TokenOut(BaseModel):
    """A token as listed: its prefix, never the token."""

    id: str
    kind: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreate(BaseModel):
    """POST /api/tokens."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["agent", "ops", "admin"]
    name: str = Field("", max_length=limits.LABEL_MAX)
    expires_at: datetime | None = None


class TokenCreated(TokenOut):
    """The new token, shown once."""

    token: str


@router.get("/me", response_model=Me)
def me(
    caller: Caller = Depends(current_caller), s: Session = Depends(get_session, scope="function")
) -> Me:
    """The caller's tenant and token kind."""
    t = s.get(Tenant, caller.tenant_id)
    return Me(
        tenant_id=caller.tenant_id,
        tenant_slug=t.slug if t else "",
        kind=caller.kind,
        token_id=caller.token_id,
    )


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(
    caller: Caller = Depends(admin_only), s: Session = Depends(get_session, scope="function")
) -> list:
    """This tenant's tokens."""
    return [
        TokenOut.model_validate(t, from_attributes=True)
        for t in service.list_tokens(s, caller.tenant_id)
    ]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(
    body: TokenCreate,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> TokenCreated:
    """Mint a token for this tenant; the response is the only place it appears."""
    tok, raw = service.create_token(
        s,
        caller.tenant_id,
        body.kind,
        body.name,
        created_by=caller.actor,
        expires_at=body.expires_at,
    )
    record(
        s,
        caller.tenant_id,
        caller.actor,
        "token.created",
        target=tok.id,
        details={"kind": tok.kind, "name": tok.name},
    )
    return TokenCreated(
        token=raw, **TokenOut.model_validate(tok, from_attributes=True).model_dump()
    )


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: IdParam,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> Response:
    """Revoke a token of this tenant."""
    tok = service.revoke_token(s, token_id, caller.tenant_id)
    record(s, caller.tenant_id, caller.actor, "token.revoked", target=tok.id)
    return Response(status_code=204)
