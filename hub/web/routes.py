"""Console pages (server-rendered): sign-in, authorizations, integrations, runs, audit.

Every page needs a session (else a redirect to /login?next=...). Every state-changing form
carries a CSRF token bound to the session and is refused (403 page) without a valid one.
Owners and admins decide authorizations and change connections; ops and members read.
Pages show masked hints of credentials at most, never a value.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from hub.accounts import service as accounts
from hub.accounts import sessions
from hub.approvals.service import decide_and_run
from hub.approvals.service import present as present_authorization
from hub.audit import service as audit
from hub.audit.service import record
from hub.connections import service as connections
from hub.connections.credentials import DIRECT_KINDS
from hub.core.errors import HubError
from hub.permissions import queue
from hub.registry import service as registry
from hub.registry.spec import CATEGORIES
from hub.runs import service as runs
from hub.runs.service import RUN_STATUSES
from hub.web import csrf, present, session
from hub.web.session import Console

log = logging.getLogger("hub.web")

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/static"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)


def _asset_version() -> str:
    h = hashlib.sha256()
    for p in sorted(STATIC_DIR.glob("*")):
        h.update(p.read_bytes())
    return h.hexdigest()[:10]


_env.globals.update(
    ago=present.ago,
    stamp=present.stamp,
    money=present.money,
    duration=present.duration,
    short=present.short,
    pretty_json=present.pretty_json,
    static=lambda name: f"{STATIC_PATH}/{name}?v={_ASSET_VERSION}",
)
_ASSET_VERSION = _asset_version()

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

GENERIC_LOGIN_ERROR = "Email or password is incorrect."
NOTE_MAX = 2000


# ---------------------------------------------------------------- plumbing


class LoginRequired(Exception):
    """No live session: send the browser to /login, then back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageError(Exception):
    """A refusal shown as an HTML page."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def forbidden_csrf() -> PageError:
    return PageError(
        403,
        "Form refused",
        "This form was not accepted: it has expired or did not come from this console. "
        "Nothing was changed. Go back, reload the page and try again.",
    )


class ConsoleRoute(APIRoute):
    """Turns refusals into pages (not the API's JSON) and adds security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired as exc:
                response = RedirectResponse(
                    f"/login?next={quote(exc.next_path, safe='/')}", status_code=303
                )
            except PageError as exc:
                response = await _error_page(request, exc.status, exc.title, exc.message)
            except HubError as exc:
                title = "Not found" if exc.status == 404 else "That did not work"
                response = await _error_page(request, exc.status, title, exc.message)
            except RequestValidationError:
                response = await _error_page(
                    request, 400, "Bad request", "The request was not understood."
                )
            for k, v in SECURITY_HEADERS.items():
                response.headers.setdefault(k, v)
            return response

        return handler


router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _db(request: Request) -> Any:
    return request.app.state.db


def console(request: Request) -> Console:
    """The signed-in user, or a redirect to /login (a dependency of every page)."""
    with _db(request).session() as s:
        c = session.load(s, request)
    if c is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # After signing in, a refused POST returns to its page (never re-sent).
        back = "/" + request.url.path.strip("/").split("/")[0]
        raise LoginRequired(target if request.method == "GET" else back)
    request.state.caller = c.caller
    request.state.console = c
    return c


async def checked_form(request: Request, c: Console) -> Mapping[str, Any]:
    """The submitted form, after the origin and CSRF checks (403 page otherwise)."""
    form = await request.form()
    if not csrf.origin_ok(request) or not csrf.token_ok(c.csrf_secret, form.get(csrf.FIELD)):
        log.warning("console form refused", extra={"path": request.url.path, "reason": "csrf"})
        raise forbidden_csrf()
    return form


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    c: Console | None = None,
    status: int = 200,
    s: Any = None,
) -> Response:
    """Render a page; signed-in pages get the header (user, pending count, sign-out)."""
    ctx: dict[str, Any] = {"me": c, "pending_count": 0, "active": "", "flash": None}
    if c is not None:
        if s is not None:
            ctx["pending_count"] = queue.pending_for_tenant(s, c.tenant_id)
        else:
            with _db(request).session() as s2:
                ctx["pending_count"] = queue.pending_for_tenant(s2, c.tenant_id)
    ctx.update(context)
    return templates.TemplateResponse(request, name, ctx, status_code=status)


async def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    """error_page off the event loop (it reads the pending count)."""
    return await anyio.to_thread.run_sync(lambda: error_page(request, status, title, message))


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    c = getattr(request.state, "console", None)
    try:
        return render(
            request, "error.html", {"title": title, "message": message}, c=c, status=status
        )
    except Exception:  # the error page must not fail on a broken database
        return render(request, "error.html", {"title": title, "message": message}, status=status)


def safe_next(value: Any) -> str:
    """A local path to return to after sign-in (never another site)."""
    default = "/authorizations"
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 500:
        return default
    if value.startswith(("//", "/\\")) or "\\" in value or any(ord(ch) < 32 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return default
    return value


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# ---------------------------------------------------------------- sign-in


class _Throttle:
    """At most LIMIT failed sign-ins per client address per WINDOW seconds (any email)."""

    LIMIT = 10
    WINDOW = 600.0

    def __init__(self) -> None:
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._fails.get(key, []) if now - t < self.WINDOW]
            self._fails[key] = recent
            return len(recent) >= self.LIMIT

    def fail(self, key: str) -> None:
        with self._lock:
            if len(self._fails) > 10_000:
                self._fails.clear()
            self._fails.setdefault(key, []).append(time.monotonic())

    def clear(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


throttle = _Throttle()


def _login_page(
    request: Request, next_path: str, *, error: str | None = None, status: int = 200
) -> Response:
    # The pre-session secret keying the sign-in form's token (double submit). Kept while it
    # lives, so two sign-in tabs both work; each render still gets a fresh token.
    secret = request.cookies.get(session.login_cookie_name(request)) or ""
    if not re.fullmatch(r"[0-9a-f]{64}", secret):
        secret = csrf.new_secret()
    response = render(
        request,
        "login.html",
        {"next": next_path, "error": error, "login_token": csrf.form_token(secret)},
        status=status,
    )
    response.set_cookie(
        session.login_cookie_name(request),
        secret,
        max_age=session.LOGIN_COOKIE_TTL,
        path="/",
        httponly=True,
        samesite="strict",
        secure=session.is_secure(request),
    )
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/authorizations", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    with _db(request).session() as s:
        if session.load(s, request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    next_path = safe_next(form.get("next"))
    secret = request.cookies.get(session.login_cookie_name(request))
    if not csrf.origin_ok(request) or not csrf.token_ok(secret, form.get(csrf.FIELD)):
        log.warning("console form refused", extra={"path": "/login", "reason": "csrf"})
        return _login_page(
            request,
            next_path,
            error="This sign-in form expired or did not come from this console. "
            "Please sign in again.",
            status=403,
        )
    email = str(form.get("email") or "").strip()[:320]
    password = str(form.get("password") or "")[:1024]
    key = _client_ip(request)
    if throttle.blocked(key):
        return _login_page(
            request,
            next_path,
            error="Too many failed sign-ins from this address. Wait a few minutes and try again.",
            status=429,
        )

    def _authenticate() -> str | None:
        with _db(request).session() as s:
            user = accounts.authenticate_user(s, email, password) if email and password else None
            if user is None:
                return None
            raw = sessions.start(s, user)
            record(
                s,
                user.tenant_id,
                f"user:{user.id}",
                "console.login",
                target=user.id,
                ip_address=key or None,
                details={"role": user.role},
            )
            return raw

    raw = await anyio.to_thread.run_sync(_authenticate)
    if raw is None:
        throttle.fail(key)
        log.info("console sign-in refused", extra={"ip": key})
        return _login_page(request, next_path, error=GENERIC_LOGIN_ERROR, status=401)
    throttle.clear(key)
    response = RedirectResponse(next_path, status_code=303)
    session.set_cookie(request, response, raw)
    response.delete_cookie(session.login_cookie_name(request), path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    with _db(request).session() as s:
        c = session.load(s, request)
    if c is not None:
        form = await checked_form(request, c)
        _ = form

        def _end() -> None:
            with _db(request).session() as s:
                sessions.end(s, c.session_id)
                record(s, c.tenant_id, c.caller.actor, "console.logout", target=c.user_id)

        await anyio.to_thread.run_sync(_end)
    response = RedirectResponse("/login", status_code=303)
    session.clear_cookie(request, response)
    return response


# ---------------------------------------------------------------- authorizations


class _Lookups:
    """Per-request caches of registry names."""

    def __init__(self, s: Any) -> None:
        self.s = s
        self._tools: dict[str, tuple[str, list[str]]] = {}
        self._integrations: dict[str, str] = {}

    def tool(self, name: str) -> tuple[str, list[str]]:
        """(title, secret_fields) of a tool; hub-native actions get a readable name."""
        if name not in self._tools:
            try:
                t = registry.get_tool(self.s, name)
                self._tools[name] = (t.title, list((t.definition or {}).get("secret_fields", [])))
            except HubError:
                self._tools[name] = (name.replace("_", " ").capitalize(), [])
        return self._tools[name]

    def integration(self, slug: str | None) -> str | None:
        if not slug:
            return None
        if slug not in self._integrations:
            try:
                self._integrations[slug] = registry.get_integration(self.s, slug).name
            except HubError:
                self._integrations[slug] = slug
        return self._integrations[slug]


def _auth_view(s: Any, auth: Any, look: _Lookups, names: dict[str, str]) -> dict[str, Any]:
    p = present_authorization(s, auth)
    title, secret_fields = look.tool(auth.tool)
    provider = look.integration(auth.provider)
    args = present.redact(auth.args, secret_fields)
    outcome = p.get("outcome") or None
    return {
        "id": auth.id,
        "tool": auth.tool,
        "title": title,
        "provider": provider,
        "summary": present.summarize(auth.tool, args, provider),
        "args": args,
        "reason": auth.reason,
        "reasoning": auth.reasoning,
        "status": p["status"],
        "state": present.AUTH_STATE.get(p["status"], "muted"),
        "created_at": auth.created_at,
        "expires_at": auth.expires_at,
        "decided_at": auth.decided_at,
        "decided_by": names.get(auth.decided_by or "", auth.decided_by),
        "agent": names.get(auth.caller, auth.caller),
        "notes": auth.notes,
        "upgrade_permission": auth.upgrade_permission,
        "outcome": outcome,
        "run_id": p.get("run_id"),
        "message": p.get("message"),
    }


def _actor_names(s: Any, tenant_id: str, actors: set[str]) -> dict[str, str]:
    names = dict(session.names_of_actors(s, tenant_id, actors))
    if any(a.startswith("token:") for a in actors):
        for tok in accounts.list_tokens(s, tenant_id):
            names[f"token:{tok.id}"] = f"{tok.name or tok.kind} ({tok.kind} token)"
    return names


def _authorizations_page(
    request: Request,
    c: Console,
    *,
    decided: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    with _db(request).session() as s:
        pending, _ = queue.list_authorizations(s, c.caller, status="pending", limit=100)
        recent, _ = queue.list_authorizations(s, c.caller, status="all", limit=80)
        history = [a for a in recent if a.status != "pending"][:50]
        look = _Lookups(s)
        actors = {a.decided_by for a in history if a.decided_by}
        actors |= {a.caller for a in [*pending, *history]}
        names = _actor_names(s, c.tenant_id, actors)
        banner = None
        if decided:
            try:
                one = queue.get_authorization(s, c.caller, decided)
                banner = _auth_view(s, one, look, names)
            except HubError:
                banner = None
        ctx = {
            "active": "authorizations",
            "pending": [_auth_view(s, a, look, names) for a in pending],
            "history": [_auth_view(s, a, look, names) for a in history],
            "banner": banner,
            "error": error,
        }
        return render(request, "authorizations.html", ctx, c=c, status=status, s=s)


@router.get("/authorizations")
def authorizations(
    request: Request, decided: str | None = None, c: Console = Depends(console)
) -> Response:
    return _authorizations_page(request, c, decided=decided)


DECISIONS = {
    "allow_once": ("authorized", False),
    "allow_always": ("authorized", True),
    "deny": ("denied", False),
}


@router.post("/authorizations/{auth_id}/decide")
async def decide(auth_id: str, request: Request, c: Console = Depends(console)) -> Response:
    form = await checked_form(request, c)
    if not c.can_decide:
        raise PageError(
            403,
            "Not allowed",
            f"Your role ({c.role}) can view authorization requests but not decide them; "
            "an owner or admin decides. Nothing was changed.",
        )
    choice = DECISIONS.get(str(form.get("decision") or ""))
    if choice is None:
        raise PageError(400, "Bad request", "Choose Allow Once, Allow Always or Deny.")
    decision, upgrade = choice
    note = str(form.get("note") or "").strip()[:NOTE_MAX] or None
    try:
        await decide_and_run(request.app.state.calls, c.caller, auth_id, decision, note, upgrade)
    except HubError as exc:
        if exc.status == 404:
            raise
        message, code = exc.message, exc.status
        return await anyio.to_thread.run_sync(
            lambda: _authorizations_page(request, c, error=message, status=code)
        )
    return RedirectResponse(f"/authorizations?decided={quote(auth_id)}", status_code=303)


# ---------------------------------------------------------------- integrations


def _connectable(integ: Any) -> bool:
    return integ.auth_type in DIRECT_KINDS and integ.status in ("available", "beta")


def _integration_card(integ: Any, conn: Any, hints: dict[str, str]) -> dict[str, Any]:
    state, label = present.integration_state(integ.status, conn.status if conn else None)
    labels = {
        f["name"]: f.get("label", f["name"]) for f in integ.definition.get("credential_fields", [])
    }
    return {
        "slug": integ.slug,
        "name": integ.name,
        "description": integ.description,
        "auth_type": integ.auth_type,
        "catalog_status": integ.status,
        "state": state,
        "label": label,
        "connectable": _connectable(integ),
        "connection": conn,
        "hints": [(labels.get(k, k.replace("_", " ")), v) for k, v in hints.items()],
    }


@router.get("/integrations")
def integrations(
    request: Request,
    saved: str | None = None,
    removed: str | None = None,
    c: Console = Depends(console),
) -> Response:
    with _db(request).session() as s:
        vault = request.app.state.vault
        conns = {x.integration_slug: x for x in connections.list_connections(s, c.tenant_id)}
        groups: dict[str, list[dict[str, Any]]] = {}
        names: dict[str, str] = {}
        for integ in registry.list_integrations(s):
            conn = conns.get(integ.slug)
            hints = connections.credential_hints(s, vault, conn) if conn else {}
            groups.setdefault(integ.category, []).append(_integration_card(integ, conn, hints))
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
        elif removed in names:
            flash = f"{names[removed]} disconnected; its stored credential was destroyed."
        ctx = {"active": "integrations", "groups": grouped, "counts": counts, "flash": flash}
        return render(request, "integrations.html", ctx, c=c, s=s)


def _connect_context(
    s: Any, request: Request, c: Console, slug: str
) -> tuple[Any, Any, dict[str, Any]]:
    integ = registry.get_integration(s, slug)
    conn = connections.connection_for(s, c.tenant_id, integ.slug)
    hints = connections.credential_hints(s, request.app.state.vault, conn) if conn else {}
    fields = list(integ.definition.get("credential_fields", []))
    ctx = {
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


def _not_connectable(integ: Any) -> PageError:
    if integ.status not in ("available", "beta"):
        why = f"{integ.name} is {integ.status.replace('_', ' ')}: it cannot be connected yet."
    else:
        why = f"{integ.name} connects through {integ.auth_type}, not with pasted credentials."
    return PageError(409, "Cannot connect here", why)


@router.get("/integrations/{slug}/connect")
def connect_form(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    _manage_guard(c)
    with _db(request).session() as s:
        integ, _, ctx = _connect_context(s, request, c, slug)
        if not _connectable(integ):
            raise _not_connectable(integ)
        return render(request, "connect.html", ctx, c=c, s=s)


@router.post("/integrations/{slug}/connect")
async def connect(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    form = await checked_form(request, c)
    _manage_guard(c)
    vault = request.app.state.vault

    def _save() -> Response:
        with _db(request).session() as s:
            integ, conn, ctx = _connect_context(s, request, c, slug)
            if not _connectable(integ):
                raise _not_connectable(integ)
            creds: dict[str, str] = {}
            for f in ctx["fields"]:
                value = form.get(f"cred.{f['name']}")
                if isinstance(value, str) and value.strip():
                    creds[f["name"]] = value
            label = str(form.get("account_label") or "").strip()[:200]
            base_url = str(form.get("base_url") or "").strip()
            try:
                if conn is None:
                    connections.create_connection(
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
                problems = exc.details.get("problems") or (
                    [{"field": exc.details["field"], "message": exc.message}]
                    if exc.details.get("field")
                    else []
                )
                labels = {f["name"]: f.get("label", f["name"]) for f in ctx["fields"]}
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
                secret_names = {f["name"] for f in ctx["fields"] if f.get("secret")}
                # Re-show only valid non-secret values; a secret is never sent back.
                ctx["values"].update(
                    {k: v for k, v in creds.items() if k not in secret_names and k not in errors}
                )
                if "base_url" not in errors:
                    ctx["base_url"] = base_url
                ctx["account_label"] = label
                ctx["errors"] = errors
                ctx["error"] = exc.message if not errors else "Please correct the marked fields."
                return render(request, "connect.html", ctx, c=c, s=s, status=exc.status)
            return RedirectResponse(
                f"/integrations?saved={quote(integ.slug)}#{integ.slug}", status_code=303
            )

    return await anyio.to_thread.run_sync(_save)


@router.post("/integrations/{slug}/disconnect")
async def disconnect(slug: str, request: Request, c: Console = Depends(console)) -> Response:
    await checked_form(request, c)
    _manage_guard(c)
    vault = request.app.state.vault

    def _remove() -> str:
        with _db(request).session() as s:
            integ = registry.get_integration(s, slug)
            conn = connections.connection_for(s, c.tenant_id, integ.slug)
            if conn is not None:
                connections.delete_connection(s, vault, c.tenant_id, c.caller.actor, conn.id)
            return integ.slug

    done = await anyio.to_thread.run_sync(_remove)
    return RedirectResponse(f"/integrations?removed={quote(done)}", status_code=303)


# ---------------------------------------------------------------- runs


@router.get("/runs")
def runs_page(
    request: Request,
    status: str | None = None,
    tool: str | None = None,
    c: Console = Depends(console),
) -> Response:
    status = status if status in RUN_STATUSES else None
    tool = (tool or "").strip()[:64] or None
    with _db(request).session() as s:
        rows = runs.list_runs(s, c.tenant_id, status=status, tool=tool, limit=100)
        look = _Lookups(s)
        items = [
            {
                "run": r,
                "state": present.RUN_STATE.get(r.status, "muted"),
                "provider": look.integration(r.provider),
            }
            for r in rows
        ]
        ctx = {
            "active": "runs",
            "items": items,
            "statuses": RUN_STATUSES,
            "status": status,
            "tool": tool or "",
        }
        return render(request, "runs.html", ctx, c=c, s=s)


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request, c: Console = Depends(console)) -> Response:
    with _db(request).session() as s:
        run = runs.get_run(s, c.tenant_id, run_id)
        look = _Lookups(s)
        title, secret_fields = look.tool(run.tool)
        args = present.redact(run.args, secret_fields)
        ctx = {
            "active": "runs",
            "run": run,
            "title": title,
            "provider": look.integration(run.provider),
            "summary": present.summarize(run.tool, args, look.integration(run.provider)),
            "args": args,
            "state": present.RUN_STATE.get(run.status, "muted"),
            "caller": _actor_names(s, c.tenant_id, {run.caller}).get(run.caller, run.caller),
        }
        return render(request, "run.html", ctx, c=c, s=s)


# ---------------------------------------------------------------- audit

AUDIT_PREFIXES = (
    "authorization.",
    "connection.",
    "console.",
    "permission.",
    "run.",
    "token.",
)
AUDIT_PAGE = 50


@router.get("/audit")
def audit_page(
    request: Request,
    action: str | None = None,
    before: str | None = None,
    run_id: str | None = None,
    c: Console = Depends(console),
) -> Response:
    if not c.can_read_audit:
        raise PageError(
            403, "Not allowed", f"Your role ({c.role}) cannot view the audit log; ask an admin."
        )
    typed = (action or "").strip()[:64]
    # "connection" and "connection." both mean every connection action.
    query = typed if not typed or "." in typed else typed + "."
    with _db(request).session() as s:
        rows = audit.query(
            s,
            c.tenant_id,
            action=query or None,
            run_id=(run_id or "")[:40] or None,
            limit=AUDIT_PAGE + 1,
            before_id=before or None,
        )
        more = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE]
        names = _actor_names(s, c.tenant_id, {r.actor for r in rows})
        ctx = {
            "active": "audit",
            "rows": rows,
            "names": names,
            "action": typed,
            "run_id": (run_id or "")[:40],
            "prefixes": AUDIT_PREFIXES,
            "older": rows[-1].id if more and rows else None,
            "paged": bool(before),
        }
        return render(request, "audit.html", ctx, c=c, s=s)
