"""The "MCP servers" page: register a remote server, see its health and what changed, approve
or reject each tool with the diff in front of you.

Owners and admins change things; ops and members read. A server's secret is typed once into
a password field and never shown again (the page says only that one is stored).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.core.errors import HubError
from hub.core.outbound import parse_allow
from hub.federation import authorize, service
from hub.federation.pinning import PINNED_FIELDS
from hub.federation.refresh import refresh
from hub.web import state
from hub.web.guard import ConsoleRoute, PageError, checked_form, console
from hub.web.oauth import continue_page
from hub.web.render import render
from hub.web.session import Console

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PERMISSIONS = service.PERMISSIONS


def _guard(c: Console) -> None:
    if not c.can_manage:
        raise PageError(
            403,
            "Not allowed",
            f"Your role ({c.role}) can view MCP servers but not change them; an owner or admin "
            "registers servers and approves their tools. Nothing was changed.",
        )


def _cards(request: Request, c: Console) -> list[dict[str, Any]]:
    with state.db(request).session() as s:
        out = []
        for m in service.list_servers(s, c.tenant_id):
            tools = service.tools_of(s, m.id)
            out.append(
                {
                    "server": m,
                    "tools": [
                        {
                            "row": t,
                            "d": t.definition or {},
                            "changes": service.tool_diff(t),
                        }
                        for t in tools
                    ],
                    "review": sum(1 for t in tools if t.state in ("pending", "held")),
                }
            )
        return out


def _page(
    request: Request,
    c: Console,
    *,
    flash: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    cards = _cards(request, c)
    ctx = {
        "active": "mcp_servers",
        "cards": cards,
        "flash": flash,
        "error": error,
        "form": form or {"transport": "auto", "auth": "none"},
        "permissions": PERMISSIONS,
        "pinned": PINNED_FIELDS,
        "oauth_redirect": authorize.callback_uri(request.app.state.settings.base_url),
    }
    with state.db(request).session() as s:
        return render(request, "mcp_servers.html", ctx, c=c, s=s, status=status)


@router.get("/mcp-servers")
def mcp_servers(
    request: Request, done: str | None = None, c: Console = Depends(console)
) -> Response:
    """Every server with health and pending changes; an add form for admins."""
    flash = {
        "added": "Server registered; its tools are listed below, pending your approval.",
        "approved": "Tool approved: agents see it now, pinned to what you reviewed.",
        "rejected": "Tool rejected: agents will not be offered it.",
        "refreshed": "Tool list refreshed.",
        "removed": "Server removed, with its tools and its stored secret.",
        "authorized": "Authorized: the hub holds the server's tokens (never shown) and listed "
        "its tools below, pending your approval.",
        "authorized_unlisted": "Authorized, but the first listing failed: see the server's "
        "last error, then Refresh now.",
    }.get(done or "")
    return _page(request, c, flash=flash)


async def _refresh(request: Request, c: Console, server_id: str) -> str | None:
    st = request.app.state
    try:
        await refresh(st.db, st.vault, st.settings, c.tenant_id, server_id, c.caller.actor)
    except HubError as exc:
        return exc.message
    return None


@router.post("/mcp-servers")
async def add_server(request: Request, c: Console = Depends(console)) -> Response:
    """Register a server from the add form, then list its tools."""
    form = await checked_form(request, c)
    _guard(c)
    values = {
        k: str(form.get(k) or "").strip()
        for k in ("name", "url", "transport", "auth", "header", "client_id")
    }
    secret = str(form.get("secret") or "")
    auth: dict[str, Any] = {"type": values["auth"] or "none"}
    if auth["type"] == "bearer":
        auth["token"] = secret
    elif auth["type"] == "header":
        auth.update({"header": values["header"], "value": secret})
    elif auth["type"] == "oauth" and values["client_id"]:
        auth.update({"client_id": values["client_id"], "client_secret": secret or None})
    st = request.app.state

    def _save() -> str:
        with state.db(request).session() as s:
            return service.register(
                s,
                st.vault,
                c.tenant_id,
                c.caller.actor,
                name=values["name"],
                url=values["url"],
                transport=values["transport"] or "auto",
                auth=auth,
                allow=parse_allow(st.settings.outbound_allow),
            ).id

    try:
        sid = await anyio.to_thread.run_sync(_save)
    except HubError as exc:
        message, status = exc.message, exc.status
        # The secret is never sent back; the other values are, so nothing typed is lost.
        return await anyio.to_thread.run_sync(
            lambda: _page(request, c, error=message, form=values, status=status)
        )
    if auth["type"] == "oauth":
        # Nothing can be listed before consent: go to the server's sign-in page now.
        return await _authorize(request, c, sid, "Registered, but authorizing could not start")
    problem = await _refresh(request, c, sid)
    if problem:
        return await anyio.to_thread.run_sync(
            lambda: _page(request, c, error=f"Registered, but the first listing failed: {problem}")
        )
    return RedirectResponse("/mcp-servers?done=added", status_code=303)


async def _authorize(request: Request, c: Console, server_id: str, failed: str) -> Response:
    st = request.app.state
    try:
        url = await authorize.start(
            st.db,
            st.vault,
            st.settings,
            tenant_id=c.tenant_id,
            user_id=c.caller.user_id,
            actor=c.caller.actor,
            server_id=server_id,
        )
    except HubError as exc:
        if exc.kind == "not_found":
            raise
        message = f"{failed}: {exc.message}"
        return await anyio.to_thread.run_sync(lambda: _page(request, c, error=message))
    return continue_page(url, "Continue to the server's sign-in page to authorize the hub")


@router.post("/mcp-servers/{server_id}/oauth")
async def authorize_server(
    server_id: str, request: Request, c: Console = Depends(console)
) -> Response:
    """Send the admin to the server's authorization server to consent (PKCE, one state)."""
    await checked_form(request, c)
    _guard(c)
    return await _authorize(request, c, server_id, "Authorizing could not start")


@router.post("/mcp-servers/{server_id}/refresh")
async def refresh_server(
    server_id: str, request: Request, c: Console = Depends(console)
) -> Response:
    """List a server's tools now."""
    await checked_form(request, c)
    _guard(c)
    problem = await _refresh(request, c, server_id)
    if problem:
        return await anyio.to_thread.run_sync(
            lambda: _page(request, c, error=f"The refresh failed: {problem}")
        )
    return RedirectResponse("/mcp-servers?done=refreshed", status_code=303)


@router.post("/mcp-servers/{server_id}/tools/{tool}/{decision}")
async def decide(
    server_id: str, tool: str, decision: str, request: Request, c: Console = Depends(console)
) -> Response:
    """Approve (with a permission) or reject one tool."""
    form = await checked_form(request, c)
    _guard(c)
    if decision not in ("approve", "reject"):
        raise PageError(404, "Not found", "Choose approve or reject.")
    permission = str(form.get("permission") or "") or None

    def _save() -> None:
        with state.db(request).session() as s:
            if decision == "approve":
                service.approve(s, c.tenant_id, c.caller.actor, server_id, tool, permission)
            else:
                service.reject(s, c.tenant_id, c.caller.actor, server_id, tool)

    await anyio.to_thread.run_sync(_save)
    done = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/mcp-servers?done={done}#{quote(server_id)}", status_code=303)


@router.post("/mcp-servers/{server_id}/remove")
async def remove_server(
    server_id: str, request: Request, c: Console = Depends(console)
) -> Response:
    """Remove a server, its tools and its secret."""
    await checked_form(request, c)
    _guard(c)
    vault = state.vault(request)

    def _save() -> None:
        with state.db(request).session() as s:
            service.remove(s, vault, c.tenant_id, c.caller.actor, server_id)

    await anyio.to_thread.run_sync(_save)
    return RedirectResponse("/mcp-servers?done=removed", status_code=303)
