"""The console's side of a session: its cookie, and the signed-in person a page sees.

Sessions themselves (random id, stored hashed, expiring) are accounts' (hub.accounts
.sessions); signing a request in goes through the one authentication function every edge
uses (hub.accounts.auth). This module holds only what is about browsers: cookie names and
flags, and the Console view of a session caller that pages and templates read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from hub.accounts.auth import Credential, authenticate
from hub.accounts.sessions import LIFETIME
from hub.core.callers import Caller, ConsoleIdentity
from hub.core.errors import HubError
from hub.web import csrf

LOGIN_COOKIE_TTL = 3600
DECIDERS = ("owner", "admin")
AUDIT_READERS = ("owner", "admin", "ops")


def is_secure(request: Request) -> bool:
    """Cookies are Secure when the hub's public URL (or this request) is https."""
    settings = request.app.state.settings
    public = getattr(settings, "public_url", None) or ""
    return public.lower().startswith("https://") or request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    """`__Host-` prefixed on https: the browser then refuses it from any subdomain or path."""
    return "__Host-hub_session" if is_secure(request) else "hub_session"


def login_cookie_name(request: Request) -> str:
    """The pre-session cookie keying the sign-in form's CSRF token."""
    return "__Host-hub_login" if is_secure(request) else "hub_login"


@dataclass(frozen=True)
class Console:
    """The signed-in user of one request, as pages and templates see them."""

    caller: Caller
    identity: ConsoleIdentity

    @property
    def tenant_id(self) -> str:
        """The user's tenant."""
        return self.caller.tenant_id

    @property
    def user_id(self) -> str:
        """The user's id."""
        return self.caller.user_id or ""

    @property
    def session_id(self) -> str:
        """The session's stored id (the hash of the cookie)."""
        return self.identity.session_id

    @property
    def csrf_secret(self) -> str:
        """Keys this session's form tokens."""
        return self.identity.csrf_secret

    @property
    def email(self) -> str:
        """The user's email."""
        return self.identity.email

    @property
    def role(self) -> str:
        """owner, admin, ops or member."""
        return self.identity.role

    @property
    def tenant_name(self) -> str:
        """The tenant's display name."""
        return self.identity.tenant_name

    @property
    def can_decide(self) -> bool:
        """Owners and admins decide authorizations."""
        return self.role in DECIDERS

    @property
    def can_manage(self) -> bool:
        """Owners and admins connect and disconnect integrations."""
        return self.role in DECIDERS

    @property
    def can_read_audit(self) -> bool:
        """The audit log is for owners, admins and ops (as over REST)."""
        return self.role in AUDIT_READERS

    def csrf_token(self) -> str:
        """A fresh synchronizer token for one form."""
        return csrf.form_token(self.csrf_secret)


def load(s: Session, request: Request) -> Console | None:
    """The signed-in user of a request, or None (no cookie, or the session ended)."""
    raw = raw_cookie(request)
    if not raw:
        return None
    try:
        caller = authenticate(
            s, Credential("session", raw), transport="console", path=request.url.path
        )
    except HubError:
        return None
    assert caller.console is not None  # a session credential always yields one
    return Console(caller, caller.console)


def set_cookie(request: Request, response: Response, raw: str) -> None:
    """Hand the browser its session cookie: HttpOnly, SameSite=Lax, Secure on https."""
    response.set_cookie(
        cookie_name(request),
        raw,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


def clear_cookie(request: Request, response: Response) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        cookie_name(request), path="/", httponly=True, samesite="lax", secure=is_secure(request)
    )


def raw_cookie(request: Request) -> str | None:
    """The session cookie value the browser sent, if any."""
    return request.cookies.get(cookie_name(request))
