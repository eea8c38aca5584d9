"""What stands around every console page: sign-in required, forms checked, refusals as pages.

Every page needs a session (else a redirect to /login?next=...). Every state-changing form
carries a CSRF token bound to the session and is refused (403 page) without a valid one.
Refusals become HTML pages, not the API's JSON, and every response gets security headers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.core.errors import HubError
from hub.web import csrf, session, state
from hub.web.render import error_page_async
from hub.web.session import Console

log = logging.getLogger("hub.web")

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
    """The refusal of a form whose CSRF token or origin did not check out."""
    return PageError(
        403,
        "Form refused",
        "This form was not accepted: it has expired or did not come from this console. "
        "Nothing was changed. Go back, reload the page and try again.",
    )


class ConsoleRoute(APIRoute):
    """Turns refusals into pages (not the API's JSON) and adds security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, wrapped to catch refusals and add the headers."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired as exc:
                response = RedirectResponse(
                    f"/login?next={quote(exc.next_path, safe='/')}", status_code=303
                )
            except PageError as exc:
                response = await error_page_async(request, exc.status, exc.title, exc.message)
            except HubError as exc:
                title = "Not found" if exc.status == 404 else "That did not work"
                response = await error_page_async(request, exc.status, title, exc.message)
            except RequestValidationError:
                response = await error_page_async(
                    request, 400, "Bad request", "The request was not understood."
                )
            for k, v in SECURITY_HEADERS.items():
                response.headers.setdefault(k, v)
            return response

        return handler


def console(request: Request) -> Console:
    """The signed-in user, or a redirect to /login (a dependency of every page)."""
    with state.db(request).session() as s:
        c = session.load(s, request)
    if c is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # After signing in, a refused POST returns to its page (never re-sent).
        back = "/" + request.url.path.strip("/").split("/")[0]
        raise LoginRequired(target if request.method == "GET" else back)
    request.state.caller = c.caller
    request.state.console = c
    return c


async def checked_form(request: Request, c: Console) -> FormData:
    """The submitted form, after the origin and CSRF checks (403 page otherwise)."""
    form = await request.form()
    if not csrf.origin_ok(request) or not csrf.token_ok(c.csrf_secret, form.get(csrf.FIELD)):
        log.warning("console form refused", extra={"path": request.url.path, "reason": "csrf"})
        raise forbidden_csrf()
    return form
