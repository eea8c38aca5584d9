"""REST routes for connections."""

from __future__ import annotations

from typing import Any

import anyio.from_thread
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from hub.connections import service
from hub.connections.models import Connection
from hub.connections.schemas import (
    ConnectionCreate,
    ConnectionList,
    ConnectionOut,
    ConnectionUpdate,
    CredentialHint,
    TestResult,
)
from hub.core.callers import Caller, admin_only, current_caller
from hub.core.limits import IdParam
from hub.db.deps import get_session

router = APIRouter(prefix="/api/connections", tags=["connections"])


def present(s: Session, request: Request, c: Connection) -> ConnectionOut:
    """Render a connection with masked hints for secret fields, plain values otherwise."""
    hints = service.credential_hints(s, request.app.state.vault, c)
    creds = {k: CredentialHint(secret=True, hint=v) for k, v in hints.items()}
    declared_plain = {k: v for k, v in c.config.items() if isinstance(v, str)}
    for k, v in declared_plain.items():
        creds.setdefault(k, CredentialHint(secret=False, hint=v))
    # The webhooks domain sits above this one; the app hands its URL function down.
    url_for = getattr(request.app.state, "webhook_url_for", None)
    return ConnectionOut(
        webhook_url=url_for(s, c.tenant_id, c.id) if url_for else None,
        id=c.id,
        integration=c.integration_slug,
        status=c.status,
        account_label=c.account_label,
        connected_via=c.connected_via,
        base_url=c.base_url,
        credentials=creds,
        times_used_by_agent=c.times_used_by_agent,
        last_agent_use_at=c.last_agent_use_at,
        last_used_at=c.last_used_at,
        last_error=c.last_error,
        last_error_kind=c.last_error_kind,
        last_error_at=c.last_error_at,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def save_and_test(s: Session, request: Request, c: Connection) -> TestResult | None:
    """Commit the save, run Save & Test (its answer sets the status) and reload the row.

    Synchronous on purpose: the admin who saved wants "connected" or the vendor's reason in
    this response. It stays quick when n8n is down (the call fails before any vendor hop and
    the answer says the test could not run, status unchanged).
    """
    # The runs layer sits above this one; the app hands its test function down.
    after = getattr(request.app.state, "after_connect", None)
    if after is None:
        return None
    s.commit()  # the test reads the connection in its own session
    got: dict[str, Any] = anyio.from_thread.run(after, c.tenant_id, c.id)
    s.refresh(c)
    return TestResult(**got)


@router.get("", response_model=ConnectionList)
def list_connections(
    request: Request,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> ConnectionList:
    """This tenant's connections."""
    rows = service.list_connections(s, caller.tenant_id)
    return ConnectionList(data=[present(s, request, c) for c in rows])


@router.post("", response_model=ConnectionOut, status_code=201)
def create_connection(
    body: ConnectionCreate,
    request: Request,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> ConnectionOut:
    """Connect an integration with API-key or service-account credentials."""
    c = service.create_connection(
        s,
        request.app.state.vault,
        caller.tenant_id,
        caller.actor,
        integration=body.integration,
        credentials=body.credentials,
        account_label=body.account_label,
        base_url=body.base_url,
        config=body.config,
        connected_via="api",
    )
    tested = save_and_test(s, request, c)
    return present(s, request, c).model_copy(update={"test": tested})


@router.get("/{connection_id}", response_model=ConnectionOut)
def get_connection(
    connection_id: IdParam,
    request: Request,
    caller: Caller = Depends(current_caller),
    s: Session = Depends(get_session, scope="function"),
) -> ConnectionOut:
    """One connection."""
    return present(s, request, service.get_connection(s, caller.tenant_id, connection_id))


@router.patch("/{connection_id}", response_model=ConnectionOut)
def update_connection(
    connection_id: IdParam,
    body: ConnectionUpdate,
    request: Request,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> ConnectionOut:
    """Replace credentials or change label, base URL or options."""
    c = service.update_connection(
        s,
        request.app.state.vault,
        caller.tenant_id,
        caller.actor,
        connection_id,
        credentials=body.credentials,
        account_label=body.account_label,
        base_url=body.base_url,
        config=body.config,
    )
    changed = (body.credentials, body.base_url, body.config) != (None, None, None)
    tested = save_and_test(s, request, c) if changed else None  # a new label changes nothing
    return present(s, request, c).model_copy(update={"test": tested})


@router.delete("/{connection_id}", status_code=204)
def delete_connection(
    connection_id: IdParam,
    request: Request,
    caller: Caller = Depends(admin_only),
    s: Session = Depends(get_session, scope="function"),
) -> Response:
    """Disconnect and destroy the stored credential."""
    service.delete_connection(
        s, request.app.state.vault, caller.tenant_id, caller.actor, connection_id
    )
    return Response(status_code=204)
