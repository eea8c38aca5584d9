"""The console's one router: every page family's routes, for hub.app to mount.

Pages are server-rendered and show masked hints of credentials at most, never a value.
The shared plumbing is in render (templates) and guard (sign-in, CSRF, refusals as pages).
"""

from __future__ import annotations

from fastapi import APIRouter

from hub.web import (
    audit,
    authorizations,
    events,
    integrations,
    login,
    mcp_servers,
    notifications,
    oauth,
    runs,
)
from hub.web.render import STATIC_DIR, STATIC_PATH

__all__ = ["STATIC_DIR", "STATIC_PATH", "router"]

router = APIRouter(include_in_schema=False)
for _family in (
    login,
    authorizations,
    integrations,
    oauth,
    mcp_servers,
    runs,
    events,
    audit,
    notifications,
):
    router.include_router(_family.router)
