"""The edge: where workflows call the hub back during a run.

POST /edge/credentials: a workflow trades its single-use grant for one connection's secret.
POST /edge/steps: a multi-step workflow records a finished step (hub.runs.steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.connections.oauth.refresh import MIN_VALID_S, expiring
from hub.connections.oauth.tokens import EDGE_WITHHELD
from hub.connections.service import get_connection
from hub.core import limits
from hub.core.errors import HubError
from hub.core.handlers import parse_body
from hub.registry.service import get_integration
from hub.runs import grants, steps
from hub.runs.callpath import CallPath
from hub.runs.handouts import Handout
from vault import Vault


class StepRequest(BaseModel):
    """A finished step, as a multi-step workflow reports it."""

    model_config = ConfigDict(extra="forbid")

    grant: str = Field(min_length=10, max_length=200, description="The run's step grant.")
    run_id: str = Field(min_length=1, max_length=limits.ID_MAX)
    step: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A step the tool declares (catalog)."
    )
    result: dict[str, Any] = Field(
        description="What later steps and the final answer need; at most "
        f"{steps.STEP_RESULT_MAX} bytes of JSON."
    )


class EdgeRequest(BaseModel):
    """What a workflow sends: its grant, and the run and integration it is for."""

    model_config = ConfigDict(extra="ignore")

    grant: str = Field(min_length=10, max_length=200)
    run_id: str | None = Field(None, max_length=limits.ID_MAX)
    integration: str | None = Field(
        None, max_length=limits.NAME_MAX, description="The integration the workflow talks to."
    )


@dataclass(frozen=True)
class Resolved:
    """A redeemed grant: the run, the answer, and the OAuth connection to keep fresh."""

    run_id: str
    answer: dict[str, Any]
    oauth: tuple[str, str] | None  # (tenant id, connection id) when the credential is OAuth


def resolve(s: Session, vault: Vault, body: EdgeRequest, ip: str | None) -> Resolved | HubError:
    """Redeem the grant, or the refusal (returned, so its audit row commits)."""
    try:
        g = grants.redeem(s, body.grant, run_id=body.run_id, ip=ip)
    except HubError as exc:
        return exc
    try:
        conn = get_connection(s, g.tenant_id, g.connection_id)
    except HubError:
        return HubError("not_found", "The grant's connection no longer exists.")
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
        return HubError("forbidden", "Credential grant refused: it is for another connection.")
    integ = get_integration(s, conn.integration_slug)
    fields = vault.read(s, g.tenant_id, conn.credential_id) if conn.credential_id else {}
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
    answer = {
        "connection": {
            "id": conn.id,
            "integration": conn.integration_slug,
            "base_url": conn.base_url or integ.definition.get("base_url"),
            "config": conn.config,
        },
        "credentials": fields,
    }
    oauth = (g.tenant_id, conn.id) if integ.auth_type == "oauth2" and fields else None
    return Resolved(g.run_id, answer, oauth)


async def resolve_credentials(request: Request) -> JSONResponse:
    """Redeem a grant once: the connection's base URL, options and credential fields.

    Every tool call through n8n makes this request, so it is a plain Starlette route in front
    of FastAPI's (hub.app), like the call route, and parses its body itself.
    """
    body = await parse_body(request, EdgeRequest)
    path: CallPath = request.app.state.calls
    ip = request.client.host if request.client else None
    # A write on every call's path: it goes through the writer with the call's own writes.
    got = await path.db.writer.run(lambda s: resolve(s, path.vault, body, ip))
    if isinstance(got, HubError):
        raise got
    run_id, answer = got.run_id, got.answer
    if got.oauth is not None:
        fields = answer["credentials"]
        if expiring(fields, MIN_VALID_S):
            # Refreshed on demand, once however many calls redeem at this moment (SECURITY 16).
            fields = await path.refresher.current(*got.oauth)
        # The workflow needs the access token only; the refresh token stays in the vault.
        answer["credentials"] = {k: v for k, v in fields.items() if k not in EDGE_WITHHELD}
    # finish() scrubs the workflow's answer of these without reading the vault again.
    secrets_ = [v for v in answer["credentials"].values() if isinstance(v, str)]
    plain = [v for v in answer["connection"]["config"].values() if isinstance(v, str)]
    path.handouts.put(run_id, Handout(secrets_, plain))
    return JSONResponse(answer)


async def record_step(request: Request) -> JSONResponse:
    """Record one finished step of a multi-step run (201), refused unless the step grant is
    this run's and its dispatch is in flight, the step is declared and not yet recorded."""
    body = await parse_body(request, StepRequest)
    path: CallPath = request.app.state.calls
    ip = request.client.host if request.client else None
    rec = steps.StepRecord(body.grant, body.run_id, body.step, body.result)
    handout = path.handouts.peek(body.run_id)
    try:
        got = await path.db.writer.run(lambda s: steps.record_step(s, path.vault, rec, ip, handout))
    except IntegrityError:  # the same step recorded twice at once: the other one won
        raise HubError(
            "conflict", "That step of this run is recorded already: each step is recorded once."
        ) from None
    if isinstance(got, HubError):
        raise got
    return JSONResponse(got, status_code=201)
