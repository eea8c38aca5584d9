"""Signing in and out of the console, with a throttle on failed sign-ins per address.

The sign-in form has no session yet, so its CSRF token is keyed by a pre-session cookie
(double submit). A failed sign-in says only that the email or password is wrong.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.accounts import service as accounts
from hub.accounts import sessions
from hub.audit.service import record
from hub.core import caches
from hub.web import csrf, session, state
from hub.web.guard import ConsoleRoute, checked_form
from hub.web.render import render

log = logging.getLogger("hub.web")

GENERIC_LOGIN_ERROR = "Email or password is incorrect."

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


class _Throttle:
    """At most LIMIT failed sign-ins per client address per WINDOW seconds (any email)."""

    LIMIT = 10
    WINDOW = 600.0

    def __init__(self) -> None:
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        """Whether `key` has used up its failures in the current window."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._fails.get(key, []) if now - t < self.WINDOW]
            self._fails[key] = recent
            return len(recent) >= self.LIMIT

    def fail(self, key: str) -> None:
        """Count one failed sign-in from `key`."""
        with self._lock:
            if len(self._fails) > 10_000:
                self._fails.clear()
            self._fails.setdefault(key, []).append(time.monotonic())

    def clear(self, key: str) -> None:
        """Forget `key`'s failures (it signed in)."""
        with self._lock:
            self._fails.pop(key, None)

    def reset(self) -> None:
        """Forget every address's failures."""
        with self._lock:
            self._fails.clear()


throttle = _Throttle()
caches.register(throttle.reset)


def safe_next(value: object) -> str:
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


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form (or straight on to `next` when already signed in)."""
    with state.db(request).session() as s:
        if session.load(s, request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the form and the password; on success start a session and go on to `next`."""
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
        with state.db(request).session() as s:
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
    """End the session (when the form checks out) and forget the cookie."""
    with state.db(request).session() as s:
        c = session.load(s, request)
    if c is not None:
        await checked_form(request, c)

        def _end() -> None:
            with state.db(request).session() as s:
                sessions.end(s, c.session_id)
                record(s, c.tenant_id, c.caller.actor, "console.logout", target=c.user_id)

        await anyio.to_thread.run_sync(_end)
    response = RedirectResponse("/login", status_code=303)
    session.clear_cookie(request, response)
    return response
