"""POST /edge/credentials: a workflow trades its single-use grant for one connection's secret."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.connections.models import Connection
from hub.core.errors import HubError
from hub.db.deps import get_session
from hub.registry.service import get_integration
from hub.runs import grants

router = APIRouter(tags=["edge"])


class EdgeRequest(BaseModel):
    """What a workflow sends: its grant, and the run and integration it is for."""

    model_config = ConfigDict(extra="ignore")

    grant: str = Field(min_length=10, max_length=200)
    run_id: str | None = None
    integration: str | None = Field(None, description="The integration the workflow talks to.")


@router.post("/edge/credentials", include_in_schema=False)
def resolve_credentials(
    body: EdgeRequest, request: Request, s: Session = Depends(get_session, scope="function")
) -> dict[str, Any]:
    """Redeem a grant once: the connection's base URL, options and credential fields."""
    ip = request.client.host if request.client else None
    g = grants.redeem(s, body.grant, run_id=body.run_id, ip=ip)
    conn = s.get(Connection, g.connection_id)
    if conn is None or conn.tenant_id != g.tenant_id:
        raise HubError("not_found", "The grant's connection no longer exists.")
    if body.integration and body.integration != conn.integration_slug:
        record(
            s,
            g.tenant_id,
            "edge",
            "grant.refused",
            target=g.id,
            run_id=g.run_id,
            success=False,
            error_message="integration_mismatch",
            ip_address=ip,
        )
        s.commit()
        raise HubError("forbidden", "Credential grant refused: it is for another connection.")
    integ = get_integration(s, conn.integration_slug)
    fields = (
        request.app.state.vault.read(s, g.tenant_id, conn.credential_id)
        if (conn.credential_id)
        else {}
    )
    record(
        s,
        g.tenant_id,
        "edge",
        "grant.redeemed",
        target=g.id,
        run_id=g.run_id,
        integration=conn.integration_slug,
        ip_address=ip,
    )
    return {
        "connection": {
            "id": conn.id,
            "integration": conn.integration_slug,
            "base_url": conn.base_url or integ.definition.get("base_url"),
            "config": conn.config,
        },
        "credentials": fields,
    }
