"""Turning templates into responses: the jinja2 environment, static assets and error pages.

Signed-in pages get the header's context (the user, the pending-authorization count);
public pages (sign-in, payments) render without it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import anyio
import jinja2
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from hub.connections import health
from hub.permissions import queue
from hub.web import present, state
from hub.web.session import Console
from hub.webhooks import service as webhooks

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/static"


def _asset_version() -> str:
    h = hashlib.sha256()
    for p in sorted(STATIC_DIR.glob("*")):
        h.update(p.read_bytes())
    return h.hexdigest()[:10]


# The version in asset URLs changes with their content, so browsers never use a stale copy.
_ASSET_VERSION = _asset_version()


def static_url(name: str) -> str:
    """The URL of a static asset, versioned by the assets' content."""
    return f"{STATIC_PATH}/{name}?v={_ASSET_VERSION}"


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(
    ago=present.ago,
    stamp=present.stamp,
    money=present.money,
    duration=present.duration,
    short=present.short,
    pretty_json=present.pretty_json,
    static=static_url,
)
templates = Jinja2Templates(env=_env)


# The banner shows the newest unread alerts; the rest wait behind "and N more".
BANNER_ALERTS = 3


def _header(s: Session, c: Console) -> dict[str, Any]:
    """What every signed-in page's header shows: counts, and for owners and admins the
    unread alerts (a connection entered error) as a banner until someone marks them read."""
    out: dict[str, Any] = {
        "pending_count": queue.pending_for_tenant(s, c.tenant_id),
        "dead_count": webhooks.dead_count(s, c.tenant_id),
        "alerts": [],
        "more_alerts": 0,
    }
    if c.can_manage:
        unread = health.notifications(s, c.tenant_id, unread_only=True)
        out["alerts"] = unread[:BANNER_ALERTS]
        out["more_alerts"] = max(0, len(unread) - BANNER_ALERTS)
    return out


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    c: Console | None = None,
    status: int = 200,
    s: Session | None = None,
) -> Response:
    """Render a page; signed-in pages get the header (user, pending count, sign-out)."""
    ctx: dict[str, Any] = {
        "me": c,
        "pending_count": 0,
        "dead_count": 0,
        "alerts": [],
        "more_alerts": 0,
        "active": "",
        "flash": None,
    }
    if c is not None:
        if s is not None:
            ctx.update(_header(s, c))
        else:
            with state.db(request).session() as s2:
                ctx.update(_header(s2, c))
    ctx.update(context)
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """A refusal or failure as a page (with the header when someone is signed in)."""
    c = getattr(request.state, "console", None)
    try:
        return render(
            request, "error.html", {"title": title, "message": message}, c=c, status=status
        )
    except Exception:  # the error page must not fail on a broken database
        return render(request, "error.html", {"title": title, "message": message}, status=status)


async def error_page_async(request: Request, status: int, title: str, message: str) -> Response:
    """error_page off the event loop (it reads the pending count)."""
    return await anyio.to_thread.run_sync(lambda: error_page(request, status, title, message))
