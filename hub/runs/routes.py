"""REST: the tool-call mirror for non-MCP callers, run records, and the edge endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.core import limits
from hub.core.callers import Caller, check_kind, current_caller
from hub.core.calls import CallRequest
from hub.core.errors import ERROR_STATUS
from hub.core.handlers import parse_body
from hub.core.limits import IdParam, NameParam
from hub.core.reads import may_read
from hub.db.deps import get_session
from hub.runs import service
from hub.runs import steps as run_steps
from hub.runs.callpath import EDGE_PATH, CallPath
from hub.runs.edge import EdgeRequest, StepRequest, record_step, resolve_credentials
from hub.runs.executor import execute
from hub.runs.models import RunStatus

router = APIRouter(tags=["tools"])


class ToolCall(BaseModel):
    """POST /api/tools/{name}/call."""

    model_config = ConfigDict(extra="forbid")

    # The bounds are enforced by hub.core.limits.check_call, the same check MCP calls get
    # (so both refuse with the same words); the schema states them.
    args: dict[str, Any] = Field(default_factory=dict)
    reasoning: str | None = Field(
        None, json_schema_extra={"maxLength": limits.REASONING_MAX, "minLength": 1}
    )
    idempotency_key: str | None = Field(
        None, json_schema_extra={"maxLength": limits.IDEMPOTENCY_KEY_MAX, "minLength": 1}
    )


class StepOut(BaseModel):
    """A finished step of a multi-step run, as its workflow recorded it (scrubbed)."""

    step: str
    result: dict[str, Any]
    recorded_at: datetime


class RunOut(BaseModel):
    """A run record (arguments have secret fields redacted)."""

    id: str
    tool: str
    provider: str | None
    connection_id: str | None
    workflow_version: int | None
    caller: str
    status: str
    args: dict[str, Any]
    idempotency_key: str | None
    reasoning: str | None
    result: dict[str, Any] | None
    error_kind: str | None
    error_message: str | None
    vendor_status: int | None
    retry_after_s: int | None
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    steps: list[StepOut] | None = Field(
        None,
        description="A multi-step run's recorded steps, oldest first; shown to admin and ops "
        "tokens on GET /api/runs/{run_id} only (agents get the run's result).",
    )


class RunList(BaseModel):
    """GET /api/runs."""

    data: list[RunOut]


CALL_PATH = "/api/tools/{name}/call"


async def call_tool(request: Request) -> JSONResponse:
    """Call a tool as an agent would over MCP; the same checks, routing and records apply.

    Every tool call passes here, so it is served as a plain Starlette route placed first
    (hub.app): FastAPI's request handling cost more than the rest of the hub's work on a
    call. The route reads its path, body and token itself; FastAPI only documents it.
    """
    name = request.path_params["name"]
    caller = await current_caller(request)
    check_kind(caller, ("agent", "admin"))
    body = await parse_body(request, ToolCall)
    limits.check_text(name, "name", max_len=limits.NAME_MAX, min_len=1)
    limits.check_call(body.args, body.reasoning, body.idempotency_key)
    path: CallPath = request.app.state.calls
    outcome = await execute(
        path,
        caller,
        CallRequest(
            tool=name,
            args=body.args,
            reasoning=body.reasoning,
            idempotency_key=body.idempotency_key,
        ),
    )
    payload = outcome.to_dict()
    if outcome.status == "succeeded":
        return JSONResponse(payload)
    if outcome.status in ("authorization_required", "paused"):
        # Queued (for a human, or for the connection to be fixed): accepted, nothing sent yet.
        return JSONResponse(payload, status_code=202)
    err = dict(outcome.error or {})
    status = ERROR_STATUS.get(err.get("kind", ""), 502)
    headers = {"Retry-After": str(err["retry_after_s"])} if err.get("retry_after_s") else None
    return JSONResponse(
        {**payload, "error": {**err, "run_id": outcome.run_id}}, status_code=status, headers=headers
    )


class CallAnswer(BaseModel):
    """A tool call's answer: succeeded (data), queued for a human (queue_id), or failed."""

    model_config = ConfigDict(extra="allow")

    status: str
    run_id: str | None = None
    data: dict[str, Any] | None = None
    replayed: bool | None = None
    queue_id: str | None = None
    reason: str | None = None
    message: str | None = None
    expires_at: str | None = None


class StepAnswer(BaseModel):
    """The step as recorded (scrubbed of the connection's secrets)."""

    step: str
    result: dict[str, Any]


class EdgeAnswer(BaseModel):
    """What a workflow gets for its grant: the connection and its credential fields."""

    connection: dict[str, Any]
    credentials: dict[str, Any]


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": model.model_json_schema()}}


# For the OpenAPI document only: the Starlette routes in front answer every request.
router.add_api_route(
    CALL_PATH,
    call_tool,
    methods=["POST"],
    openapi_extra={
        "parameters": [
            {
                "name": "name",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": limits.NAME_MAX},
            }
        ],
        "requestBody": {"required": True, "content": _json(ToolCall)},
        "responses": {
            "200": {"description": "The call succeeded.", "content": _json(CallAnswer)},
            "202": {
                "description": "Queued for a human's authorization; nothing was sent.",
                "content": _json(CallAnswer),
            },
        },
    },
)
router.add_api_route(
    EDGE_PATH,
    resolve_credentials,
    methods=["POST"],
    tags=["edge"],
    summary="A workflow trades its single-use grant for one connection's credentials",
    openapi_extra={
        "requestBody": {"required": True, "content": _json(EdgeRequest)},
        "responses": {
            "200": {"description": "The grant was redeemed.", "content": _json(EdgeAnswer)}
        },
    },
)

router.add_api_route(
    run_steps.STEPS_PATH,
    record_step,
    methods=["POST"],
    tags=["edge"],
    summary="A multi-step workflow records a finished step with its run's step grant",
    openapi_extra={
        "requestBody": {"required": True, "content": _json(StepRequest)},
        "responses": {
            "201": {"description": "The step was recorded.", "content": _json(StepAnswer)}
        },
    },
)


@router.get("/api/runs", response_model=RunList, response_model_exclude_unset=True, tags=["runs"])
def list_runs(
    status: RunStatus | None = None,
    tool: NameParam | None = None,
    limit: int = Query(50, ge=1, le=200),
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> RunList:
    """Recent runs of this tenant."""
    rows = service.list_runs(s, caller.tenant_id, status=status, tool=tool, limit=limit)
    return RunList(data=[RunOut.model_validate(r, from_attributes=True) for r in rows])


@router.get(
    "/api/runs/{run_id}", response_model=RunOut, response_model_exclude_unset=True, tags=["runs"]
)
def get_run(
    run_id: IdParam,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> RunOut:
    """One run; for admin and ops tokens with a multi-step run's recorded steps."""
    run = service.get_run(s, caller.tenant_id, run_id)
    out = RunOut.model_validate(run, from_attributes=True)
    # Steps are the workflow's working data (vendor ids between calls): operators see them,
    # like the audit log; an agent's view of a run is its result.
    if may_read(caller.kind, "audit") and run_steps.declared_steps(s, run.tool):
        out.steps = [StepOut.model_validate(x) for x in run_steps.step_list(s, run.id)]
    return out
