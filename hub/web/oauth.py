"""The console's OAuth pages: "Set up the OAuth app" and "Connect with X".

Setting up the app: an owner or admin registers the tenant's own OAuth app (client id, and a
client secret that goes to the vault and is never shown again) on a page that shows the exact
redirect URI to register at the provider. It serves this tenant only and overrides the
instance's app (which only the operator registers, from the CLI): no console user has power
over what other tenants use (hub.connections.oauth.apps).

Connecting: a signed-in owner or admin posts the form, the hub starts the flow bound to that
user, and the browser goes to the provider's consent page; the provider sends it back to
/oauth/callback, then to /integrations."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hub.connections import links
from hub.connections.oauth import apps, flow
from hub.core.errors import HubError
from hub.registry import service as registry
from hub.web import state
from hub.web.guard import ConsoleRoute, PageError, checked_form, console
from hub.web.render import render
from hub.web.session import Console

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


def _manage_only(c: Console) -> None:
    if not c.can_manage:
        raise PageError(403, "Not allowed", "Only owners and admins can connect integrations.")


async def _start_flow(
    request: Request, c: Console, slug: str, connected_via: str, link: str | None = None
) -> Response:
    """Start the flow bound to the signed-in user (spending a connect link first, in the same
    transaction) and move the browser on to the provider's consent page."""
    settings = request.app.state.settings

    def _start() -> str:
        with state.db(request).session() as s:
            integration = slug
            if link is not None:
                integration = links.use_link(s, c.tenant_id, link, c.caller.actor).integration_slug
            return flow.start(
                s,
                state.vault(request),
                tenant_id=c.tenant_id,
                user_id=c.caller.user_id,
                actor=c.caller.actor,
                integration=integration,
                public_url=settings.base_url,
                connected_via=connected_via,
            )

    try:
        url = await anyio.to_thread.run_sync(_start)
    except HubError as exc:
        raise PageError(exc.status, "Cannot connect", exc.message) from None
    return continue_page(url, "Continue to the provider to approve access")


def continue_page(url: str, label: str) -> HTMLResponse:
    """A page that moves on to an authorization server by itself (and offers the link).

    Not a redirect: the console's CSP (form-action 'self') stops a form's redirect to
    another origin. A page that moves on by itself is not a form action, and keeps that
    policy strict for every other form."""
    href = html.escape(url, quote=True)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={href}">'
        "<title>Continue to the provider</title></head><body>"
        f'<p><a href="{href}">{html.escape(label)}</a></p></body></html>'
    )
    return HTMLResponse(body, headers={"Referrer-Policy": "no-referrer"})


@router.post("/integrations/{slug}/oauth")
async def start_oauth(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """Start connecting (or reconnecting) an OAuth integration and go to its consent page."""
    await checked_form(request, c)
    _manage_only(c)
    return await _start_flow(request, c, slug, "ui")


@router.get("/connect/{token}")
def connect_link(token: str, request: Request, c: Console = Depends(console)) -> Response:
    """The page an agent's connect link opens: who asked, for what, and the one button."""
    _manage_only(c)
    with state.db(request).session() as s:
        try:
            row = links.peek_link(s, c.tenant_id, token[:64])
            integ = registry.get_integration(s, row.integration_slug)
        except HubError as exc:
            raise PageError(exc.status, "Link not usable", exc.message) from None
        ctx = {
            "active": "integrations",
            "integration": integ,
            "requested_by": row.created_by,
            "expires_at": row.expires_at,
            "token": token[:64],
        }
        return render(request, "connect_link.html", ctx, c=c, s=s)


@router.post("/connect/{token}")
async def use_connect_link(token: str, request: Request, c: Console = Depends(console)) -> Response:
    """Spend the link (once) and start the flow; the connection records it came through the
    assistant."""
    await checked_form(request, c)
    _manage_only(c)
    return await _start_flow(request, c, "", "assistant", link=token[:64])


def _app_context(s: Session, request: Request, c: Console, slug: str) -> dict[str, Any]:
    integ = registry.get_integration(s, slug)
    if integ.auth_type != "oauth2" or "oauth" not in integ.definition:
        raise PageError(
            409,
            "Not an OAuth integration",
            f"{integ.name} connects through {integ.auth_type}: it has no OAuth app to set up.",
        )
    mine = apps.get_tenant_app(s, c.tenant_id, integ.slug)
    return {
        "active": "integrations",
        "integration": integ,
        "redirect_uri": apps.redirect_uri(request.app.state.settings.base_url),
        "tenant_app": mine,
        "secret_hint": apps.secret_hint(s, state.vault(request), mine) if mine else None,
        "instance_app": apps.get_app(s, integ.slug) is not None,
        "docs_url": integ.definition.get("docs_url"),
        "client_id": mine.client_id if mine else "",
        "errors": {},
        "error": None,
    }


@router.get("/integrations/{slug}/oauth-app")
def oauth_app_form(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """Set up (or replace) the tenant's OAuth app: the redirect URI to register, the form."""
    _manage_only(c)
    with state.db(request).session() as s:
        ctx = _app_context(s, request, c, slug)
        return render(request, "oauth_app.html", ctx, c=c, s=s)


@router.post("/integrations/{slug}/oauth-app")
async def save_oauth_app(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """Store the tenant's OAuth app (secret into the vault, audited); a refusal re-shows the
    form with what to fix and never the secret."""
    form = await checked_form(request, c)
    _manage_only(c)
    client_id = str(form.get("client_id") or "")
    client_secret = str(form.get("client_secret") or "")

    def _save() -> Response:
        with state.db(request).session() as s:
            ctx = _app_context(s, request, c, slug)
            integ = ctx["integration"]
            try:
                apps.register_tenant_app(
                    s,
                    state.vault(request),
                    c.tenant_id,
                    c.caller.actor,
                    integration=integ.slug,
                    client_id=client_id,
                    client_secret=client_secret,
                )
            except HubError as exc:
                s.rollback()
                field = str(exc.details.get("field") or "")
                ctx["errors"] = {field: exc.message} if field else {}
                ctx["error"] = exc.message if not field else "Please correct the marked field."
                # A valid client id is shown again; the secret never is.
                ctx["client_id"] = "" if field == "client_id" else client_id.strip()
                return render(request, "oauth_app.html", ctx, c=c, s=s, status=exc.status)
            return RedirectResponse(
                f"/integrations?app_saved={quote(integ.slug)}#{quote(integ.slug)}",
                status_code=303,
            )

    return await anyio.to_thread.run_sync(_save)
