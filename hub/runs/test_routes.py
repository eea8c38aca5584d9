"""POST /api/connections/{id}/test: Save & Test (hub.runs.testcall)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from hub.core.callers import Caller, admin_only
from hub.core.limits import IdParam
from hub.runs.testcall import test_connection

router = APIRouter(prefix="/api/connections", tags=["connections"])


class TestOut(BaseModel):
    """The connection's health after the test, and the vendor's answer in words."""

    status: str
    tested: bool
    message: str
    run_id: str | None = None


@router.post("/{connection_id}/test", response_model=TestOut)
async def test_route(
    connection_id: IdParam, request: Request, caller: Caller = Depends(admin_only)
) -> TestOut:
    """Run the integration's test call through n8n against the vendor; it sets the status."""
    got = await test_connection(request.app.state.calls, caller.tenant_id, connection_id)
    return TestOut(**got)
