"""The integrations catalog and connecting one: paste credentials, see masked hints only.

Owners and admins connect and disconnect; ops and members read. A credential's value is
never sent back to the browser, not even to re-show a form that failed validation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.connections import service as connections
from hub.connections.credentials import DIRECT_KINDS
from hub.connections.oauth.apps import app_scope
from hub.connections.service import Connection
from hub.core import limits
from hub.core.errors import HubError
from hub.registry import service as registry
from hub.registry.service import Integration
from hub.registry.spec import CATEGORIES
from hub.runs.testcall import test_connection
from hub.web import present, state
from hub.web.guard import ConsoleRoute, PageError, checked_form, console
from hub.web.render import render
from hub.web.session import Console
from hub.webhooks import service as webhooks

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _connectable(integ: Integration) -> bool:
    return integ.auth_type in DIRECT_KINDS and integ.status in ("available", "beta")


def _integration_card(
    integ: Integration, conn: Connection | None, hints: dict[str, str], oauth_app: str | None
) -> dict[str, Any]:
    card_state, label = present.integration_state(integ.status, conn.status if conn else None)
    labels = {
        f["name"]: f.get("label", f["name"]) for f in integ.definition.get("credential_fields", [])
    }
    return {
        "slug": integ.slug,
        "name": integ.name,
        "description": integ.description,
        "auth_type": integ.auth_type,
        "catalog_status": integ.status,
        "state": card_state,
        "label": label,
        "connectable": _connectable(integ),
        "testable": bool(integ.definition.get("test_call")),
        # OAuth: whose app a connect would use (tenant, instance), None when there is none.
        "oauth_app": oauth_app,
        "connection": conn,
        "hints": [(labels.get(k, k.replace("_", " ")), v) for k, v in hints.items()],
    }


@router.get("/integrations")
def integrations(
    request: Request,
    saved: str | None = None,
    removed: str | None = None,
    tested: str | None = None,
    untested: str | None = None,
    app_saved: str | None = None,
    c: Console = Depends(console),
) -> Response:
    """The catalog by category, each card with its connection's state and masked hints."""
    with state.db(request).session() as s:
        vault = state.vault(request)
        conns = {x.integration_slug: x for x in connections.list_connections(s, c.tenant_id)}
        groups: dict[str, list[dict[str, Any]]] = {}
        names: dict[str, str] = {}
        for integ in registry.list_integrations(s):
            conn = conns.get(integ.slug)
            hints = connections.credential_hints(s, vault, conn) if conn else {}
            app = app_scope(s, c.tenant_id, integ.slug) if integ.auth_type == "oauth2" else None
            card = _integration_card(integ, conn, hints, app)
            groups.setdefault(integ.category, []).append(card)
            names[integ.slug] = integ.name
        order = {cat: i for i, cat in enumerate(CATEGORIES)}
        grouped = [
            (cat, present.CATEGORY_LABELS.get(cat, cat.replace("_", " ").title()), cards)
            for cat, cards in sorted(groups.items(), key=lambda kv: order.get(kv[0], 99))
        ]
        counts = {
            "connected": sum(1 for x in conns.values() if x.status == "connected"),
            "attention": sum(1 for x in conns.values() if x.status in ("warning", "error")),
            "catalog": len(names),
        }
        flash = None
        if saved in names:
            flash = f"{names[saved]} saved. Only masked hints of its credentials are shown."
            if tested == saved and saved in conns:
                flash += " " + _tested_flash(names[saved], conns[saved])
            elif untested == saved:
                flash += (
                    " Save & Test got no verdict (n8n, the hub's edge or the vendor did not "
                    "answer): press Test once it can be reached."
                )
        elif app_saved in names:
            flash = (
                f"The OAuth app for {names[app_saved]} is saved; its client secret is in the "
                f"vault. Now click Connect with {names[app_saved]}."
            )
        elif removed in names:
            flash = f"{names[removed]} disconnected; its stored credential was destroyed."
        elif tested in names and tested in conns:
            flash = _tested_flash(names[tested], conns[tested])
        ctx = {"active": "integrations", "groups": grouped, "counts": counts, "flash": flash}
        return render(request, "integrations.html", ctx, c=c, s=s)


def _connect_context(
    s: Session, request: Request, c: Console, slug: str
) -> tuple[Integration, Connection | None, dict[str, Any]]:
    integ = registry.get_integration(s, slug)
    conn = connections.connection_for(s, c.tenant_id, integ.slug)
    hints = connections.credential_hints(s, state.vault(request), conn) if conn else {}
    fields = list(integ.definition.get("credential_fields", []))
    hooks = integ.definition.get("webhooks") or {}
    base = request.app.state.settings.base_url
    url = webhooks.webhook_url_for(s, base, c.tenant_id, conn.id) if conn else None
    ctx = {
        "webhook_url": url,
        "webhook_secret_field": hooks.get("secret_field"),
        "active": "integrations",
        "integration": integ,
        "connection": conn,
        "fields": fields,
        "hints": hints,
        "setup": present.steps(integ.definition.get("setup_instructions", "")),
        "docs_url": integ.definition.get("docs_url"),
        "values": {
            f["name"]: (conn.config.get(f["name"], "") if conn else f.get("default") or "")
            for f in fields
            if not f.get("secret")
        },
        "account_label": conn.account_label if conn else "",
        "base_url": (conn.base_url or "") if conn else "",
        "errors": {},
        "error": None,
    }
    return integ, conn, ctx


def _manage_guard(c: Console) -> None:
    if not c.can_manage:
        raise PageError(
            403,
            "Not allowed",
            f"Your role ({c.role}) can view integrations but not change them; an owner or "
            "admin connects and disconnects them. Nothing was changed.",
        )


def _not_connectable(integ: Integration) -> PageError:
    if integ.status not in ("available", "beta"):
        why = f"{integ.name} is {integ.status.replace('_', ' ')}: it cannot be connected yet."
    else:
        why = f"{integ.name} connects through {integ.auth_type}, not with pasted credentials."
    return PageError(409, "Cannot connect here", why)


def _field_errors(exc: HubError, fields: list[dict[str, Any]]) -> dict[str, str]:
    """A refused save's problems, per form field, in words a person can act on."""
    problems = exc.details.get("problems") or (
        [{"field": exc.details["field"], "message": exc.message}]
        if exc.details.get("field")
        else []
    )
    labels = {f["name"]: f.get("label", f["name"]) for f in fields}
    errors = {}
    for p in problems:
        name = str(p["field"]).removeprefix("credentials.")
        msg = str(p["message"])
        if msg.startswith("does not have the expected form"):
            # The registry's regex means little to a person; say it plainly.
            msg = (
                f"This does not look like a {labels.get(name, name).lower()}; "
                "check that you copied the whole value."
            )
        errors[name] = msg
    return errors


@router.get("/integrations/{slug}/connect")
def connect_form(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """The connect form: setup steps, credential fields, hints of what is stored."""
    _manage_guard(c)
    with state.db(request).session() as s:
        integ, _, ctx = _connect_context(s, request, c, slug)
        if not _connectable(integ):
            raise _not_connectable(integ)
        return render(request, "connect.html", ctx, c=c, s=s)


@router.post("/integrations/{slug}/connect")
async def connect(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """Create or update the connection; a refused save re-shows the form with its errors."""
    form = await checked_form(request, c)
    _manage_guard(c)
    vault = state.vault(request)

    def _save() -> Response | str:
        with state.db(request).session() as s:
            integ, conn, ctx = _connect_context(s, request, c, slug)
            if not _connectable(integ):
                raise _not_connectable(integ)
            creds: dict[str, str] = {}
            for f in ctx["fields"]:
                value = form.get(f"cred.{f['name']}")
                if isinstance(value, str) and value.strip():
                    creds[f["name"]] = value
            label = str(form.get("account_label") or "").strip()
            base_url = str(form.get("base_url") or "").strip()
            try:
                # The same bounds as REST: refused when over, never cut silently.
                limits.check_text(label, "account_label", max_len=limits.LABEL_MAX)
                limits.check_text(base_url, "base_url", max_len=limits.URL_MAX)
                if conn is None:
                    conn = connections.create_connection(
                        s,
                        vault,
                        c.tenant_id,
                        c.caller.actor,
                        integration=integ.slug,
                        credentials=creds,
                        account_label=label,
                        base_url=base_url or None,
                        connected_via="ui",
                    )
                elif not (creds or (base_url and base_url != (conn.base_url or ""))):
                    connections.update_connection(
                        s, vault, c.tenant_id, c.caller.actor, conn.id, account_label=label or None
                    )
                    # Nothing the test call depends on changed: no need to ask the vendor.
                    return RedirectResponse(
                        f"/integrations?saved={quote(integ.slug)}#{integ.slug}", status_code=303
                    )
                else:
                    connections.update_connection(
                        s,
                        vault,
                        c.tenant_id,
                        c.caller.actor,
                        conn.id,
                        credentials=creds or None,
                        account_label=label or None,
                        base_url=base_url if base_url != (conn.base_url or "") else None,
                    )
            except HubError as exc:
                s.rollback()
                errors = _field_errors(exc, ctx["fields"])
                secret_names = {f["name"] for f in ctx["fields"] if f.get("secret")}
                # Re-show only valid non-secret values; a secret is never sent back.
                ctx["values"].update(
                    {k: v for k, v in creds.items() if k not in secret_names and k not in errors}
                )
                if "base_url" not in errors:
                    ctx["base_url"] = base_url
                if "account_label" not in errors:
                    ctx["account_label"] = label
                ctx["errors"] = errors
                ctx["error"] = exc.message if not errors else "Please correct the marked fields."
                return render(request, "connect.html", ctx, c=c, s=s, status=exc.status)
            return conn.id

    saved = await anyio.to_thread.run_sync(_save)
    if not isinstance(saved, str):
        return saved
    # Save & Test: new credentials are tried against the vendor at once; its answer sets
    # the status and the flash says it (or that the test could not run).
    got = await test_connection(state.calls(request), c.tenant_id, saved)
    outcome = "tested" if got["tested"] else "untested"
    return RedirectResponse(
        f"/integrations?saved={quote(slug)}&{outcome}={quote(slug)}#{quote(slug)}",
        status_code=303,
    )


def _tested_flash(name: str, conn: Connection) -> str:
    """What Save & Test found, from the status it set (the vendor's reason when it failed)."""
    if conn.status == "connected":
        return f"{name} passed the test call: connected."
    return f"{name} did not pass the test call ({conn.status}): {conn.last_error or 'no reason'}"


@router.post("/integrations/{slug}/test")
async def save_and_test(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """Save & Test: run the integration's declared test call through n8n against the vendor;
    its answer sets the connection's status (and resumes paused calls when it passes)."""
    await checked_form(request, c)
    _manage_guard(c)

    def _find() -> tuple[str, str]:
        with state.db(request).session() as s:
            integ = registry.get_integration(s, slug)
            conn = connections.connection_for(s, c.tenant_id, integ.slug)
            if conn is None:
                raise PageError(
                    409,
                    "Not connected",
                    f"{integ.name} is not connected: connect it first, then test it.",
                )
            return integ.slug, conn.id

    found, conn_id = await anyio.to_thread.run_sync(_find)
    await test_connection(state.calls(request), c.tenant_id, conn_id)
    return RedirectResponse(f"/integrations?tested={quote(found)}#{found}", status_code=303)


@router.post("/integrations/{slug}/disconnect")
async def disconnect(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    """Remove the tenant's connection to an integration; its stored credential is destroyed."""
    await checked_form(request, c)
    _manage_guard(c)
    vault = state.vault(request)

    def _remove() -> str:
        with state.db(request).session() as s:
            integ = registry.get_integration(s, slug)
            conn = connections.connection_for(s, c.tenant_id, integ.slug)
            if conn is not None:
                connections.delete_connection(s, vault, c.tenant_id, c.caller.actor, conn.id)
            return integ.slug

    done = await anyio.to_thread.run_sync(_remove)
    return RedirectResponse(f"/integrations?removed={quote(done)}", status_code=303)
