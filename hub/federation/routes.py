"""REST: /api/mcp-servers (admins register, refresh, approve, remove; ops may read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from hub.core.callers import Caller, admin_only, admin_or_ops
from hub.core.errors import HubError
from hub.core.limits import IdParam, NameParam
from hub.core.outbound import parse_allow
from hub.federation import authorize, service
from hub.federation.refresh import refresh
from hub.federation.schemas import ApproveIn, ServerCreate, ServerList, ServerOut, server_out

router = APIRouter(prefix="/api/mcp-servers", tags=["mcp servers"])
# The authorization server's redirect and the hub's client metadata document: outside /api.
oauth_router = APIRouter(tags=["mcp servers"])
T = TypeVar("T")


async def _db(request: Request, fn: Callable[[Session], T]) -> T:
    """Run fn(session) in a worker thread, in one transaction."""

    def run() -> T:
        with request.app.state.db.session() as s:
            return fn(s)

    return await anyio.to_thread.run_sync(run)


def _detail(s: Session, tenant_id: str, server_id: str) -> ServerOut:
    m = service.get_server(s, tenant_id, server_id)
    return server_out(m, service.tools_of(s, m.id), detail=True)


async def _refreshed(request: Request, caller: Caller, server_id: str) -> ServerOut:
    """Refresh now; the answer carries the report, or the failure and the new health."""
    st = request.app.state
    outcome: dict[str, Any]
    try:
        report = await refresh(
            st.db, st.vault, st.settings, caller.tenant_id, server_id, caller.actor
        )
        outcome = {"ok": True, **report.to_dict()}
    except HubError as exc:
        if exc.kind == "not_found":
            raise
        outcome = {"ok": False, "error": exc.to_dict()["error"]}
    out = await _db(request, lambda s: _detail(s, caller.tenant_id, server_id))
    out.refresh = outcome
    return out


@router.post("", response_model=ServerOut, status_code=201)
async def register_server(
    body: ServerCreate, request: Request, caller: Caller = Depends(admin_only)
) -> ServerOut:
    """Register a server and list its tools right away (they arrive pending approval)."""
    st = request.app.state
    m = await _db(
        request,
        lambda s: (
            service.register(
                s,
                st.vault,
                caller.tenant_id,
                caller.actor,
                name=body.name,
                url=body.url,
                transport=body.transport,
                auth=body.auth.model_dump(exclude_none=True),
                allow=parse_allow(st.settings.outbound_allow),
                refresh_interval_s=body.refresh_interval_s,
            ).id
        ),
    )
    if body.auth.type == "oauth":
        # Nothing can be listed before an admin consents: the answer says how to start.
        return await _db(request, lambda s: _detail(s, caller.tenant_id, m))
    return await _refreshed(request, caller, m)


@router.get("", response_model=ServerList)
async def list_servers(request: Request, caller: Caller = Depends(admin_or_ops)) -> ServerList:
    """This tenant's servers with health and pending changes."""

    def run(s: Session) -> ServerList:
        rows = service.list_servers(s, caller.tenant_id)
        return ServerList(data=[server_out(m, service.tools_of(s, m.id)) for m in rows])

    return await _db(request, run)


@router.get("/{server_id}", response_model=ServerOut)
async def get_server(
    server_id: IdParam, request: Request, caller: Caller = Depends(admin_or_ops)
) -> ServerOut:
    """One server: health, last refresh, its tools, their states and changes."""
    return await _db(request, lambda s: _detail(s, caller.tenant_id, server_id))


@router.post("/{server_id}/refresh", response_model=ServerOut)
async def refresh_server(
    server_id: IdParam, request: Request, caller: Caller = Depends(admin_only)
) -> ServerOut:
    """List the server's tools now (changed approved tools are held)."""
    await _db(request, lambda s: service.get_server(s, caller.tenant_id, server_id).id)
    return await _refreshed(request, caller, server_id)


@router.post("/{server_id}/tools/{tool}/approve", response_model=ServerOut)
async def approve_tool(
    server_id: IdParam,
    tool: NameParam,
    request: Request,
    body: ApproveIn | None = Body(default=None),
    caller: Caller = Depends(admin_only),
) -> ServerOut:
    """Approve a tool as listed now, at the proposed permission or the one given."""

    def run(s: Session) -> ServerOut:
        service.approve(
            s, caller.tenant_id, caller.actor, server_id, tool, body.permission if body else None
        )
        return _detail(s, caller.tenant_id, server_id)

    return await _db(request, run)


@router.post("/{server_id}/tools/{tool}/reject", response_model=ServerOut)
async def reject_tool(
    server_id: IdParam, tool: NameParam, request: Request, caller: Caller = Depends(admin_only)
) -> ServerOut:
    """Reject a tool: agents are never offered it."""

    def run(s: Session) -> ServerOut:
        service.reject(s, caller.tenant_id, caller.actor, server_id, tool)
        return _detail(s, caller.tenant_id, server_id)

    return await _db(request, run)


@router.delete("/{server_id}", status_code=204)
async def remove_server(
    server_id: IdParam, request: Request, caller: Caller = Depends(admin_only)
) -> Response:
    """Remove a server, its tools and its stored secret."""
    st = request.app.state
    await _db(
        request, lambda s: service.remove(s, st.vault, caller.tenant_id, caller.actor, server_id)
    )
    return Response(status_code=204)


class AuthorizeOut(BaseModel):
    """Where an admin consents, and the redirect URI the authorization server will use."""

    authorize_url: str
    redirect_uri: str


@router.post("/{server_id}/oauth/start", response_model=AuthorizeOut)
async def start_oauth(
    server_id: IdParam, request: Request, caller: Caller = Depends(admin_only)
) -> AuthorizeOut:
    """Begin authorizing the hub at an OAuth MCP server; answers the consent URL."""
    st = request.app.state
    url = await authorize.start(
        st.db,
        st.vault,
        st.settings,
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        actor=caller.actor,
        server_id=server_id,
    )
    return AuthorizeOut(
        authorize_url=url, redirect_uri=authorize.callback_uri(st.settings.base_url)
    )


async def oauth_callback(request: Request) -> Response:
    """The authorization server sends the admin back here; then the tools are listed.

    A plain Starlette route, like the integrations' callback: authorization servers add
    parameters of their own (iss, scope...), which the unknown-query refusal must not reject."""
    st = request.app.state
    params = {k: v[:2000] for k, v in request.query_params.items()}
    callback_url = st.settings.base_url.rstrip("/") + request.url.path
    done = await authorize.complete(
        st.db, st.vault, st.settings, params=params, callback_url=callback_url
    )
    outcome: dict[str, Any] = {"ok": True}
    try:
        report = await refresh(
            st.db, st.vault, st.settings, done.tenant_id, done.server_id, done.actor
        )
        outcome.update(report.to_dict())
    except HubError as exc:
        outcome = {"ok": False, "error": exc.to_dict()["error"]}
    if "text/html" in request.headers.get("accept", ""):
        flag = "authorized" if outcome["ok"] else "authorized_unlisted"
        return RedirectResponse(f"/mcp-servers?done={flag}#{done.server_id}", 303)
    return JSONResponse(
        {
            "server_id": done.server_id,
            "name": done.server_name,
            "authorized": True,
            "refresh": outcome,
        }
    )


async def client_metadata(request: Request) -> Response:
    """The hub's OAuth client ID metadata document (its client_id is this URL)."""
    return JSONResponse(authorize.client_metadata(request.app.state.settings.base_url))


oauth_router.add_route(authorize.CALLBACK_PATH, oauth_callback, methods=["GET"])
oauth_router.add_route(authorize.CLIENT_METADATA_PATH, client_metadata, methods=["GET"])
