"""The app factory: wires routers, error handlers and start-up. Nothing runs at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from hub import __version__
from hub.accounts.auth import HttpAuthenticator
from hub.accounts.routes import router as accounts_router
from hub.approvals.routes import router as approvals_router
from hub.audit.routes import router as audit_router
from hub.connections.catalog_routes import router as catalog_router
from hub.connections.oauth_routes import router as oauth_router
from hub.connections.routes import router as connections_router
from hub.core.guard import EdgeGuard, Limits
from hub.core.handlers import install_handlers
from hub.core.lanes import LanedApp
from hub.core.logs import configure_logging
from hub.core.middleware import RequestLogMiddleware
from hub.core.openapi import install_openapi
from hub.core.settings import Settings, get_settings
from hub.core.strict import known_query_only
from hub.db.health import router as health_router
from hub.federation.routes import oauth_router as mcp_oauth_router
from hub.federation.routes import router as mcp_servers_router
from hub.mcp.http import PATH as MCP_PATH
from hub.mcp.http import McpEndpoint
from hub.permissions.policy import configure as configure_policy
from hub.permissions.routes import router as permissions_router
from hub.runs.alerts import alert_loop
from hub.runs.callpath import EDGE_PATH
from hub.runs.edge import record_step, resolve_credentials
from hub.runs.routes import CALL_PATH, call_tool
from hub.runs.routes import router as runs_router
from hub.runs.steps import STEPS_PATH
from hub.runs.test_routes import router as test_router
from hub.runs.testcall import test_connection
from hub.runtime import Runtime, open_runtime
from hub.scheduler.jobs import Jobs
from hub.web.payments import router as payments_router
from hub.web.routes import STATIC_DIR, STATIC_PATH
from hub.web.routes import router as web_router
from hub.webhooks.mount import Webhooks


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the hub's ASGI app; pass a Runtime to reuse one already opened."""
    settings = settings or (runtime.settings if runtime else get_settings())
    rt = runtime or open_runtime(settings)
    configure_logging(settings.log_level, settings.log_format)
    configure_policy(settings.registry_dir)
    mcp_endpoint = McpEndpoint(rt)
    webhooks = Webhooks(settings, rt.db, rt.vault, rt.calls)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sched = Jobs(rt).start() if settings.scheduler_enabled else None
        alerts = asyncio.create_task(alert_loop(rt.calls)) if settings.scheduler_enabled else None
        rt.db.checkpointer.start()
        await webhooks.start()
        async with mcp_endpoint.run():  # the MCP SDK's session manager needs its lifespan
            yield
        await webhooks.stop()
        if sched is not None:
            sched.stop()
        if alerts is not None:
            alerts.cancel()
        rt.db.checkpointer.stop()
        await rt.calls.aclose()
        if runtime is None:
            rt.close()

    app = LanedApp(
        title="Agent integration hub",
        version=__version__,
        description="Lets AI agents act on a business's accounts through MCP tools, with "
        "credentials they never see and approvals a human gives.",
        lifespan=lifespan,
        dependencies=[Depends(known_query_only)],
        # The hub exports no OpenTelemetry; FastAPI's own probe for it read the environment
        # three times per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.runtime = rt
    app.state.db = rt.db
    app.state.vault = rt.vault
    app.state.calls = rt.calls
    app.state.authenticator = HttpAuthenticator(rt.db)
    app.state.mcp = mcp_endpoint

    async def after_connect(tenant_id: str, connection_id: str) -> dict[str, Any]:
        # Every OAuth connect and credential save is followed by Save & Test; its answer
        # sets the status.
        return await test_connection(rt.calls, tenant_id, connection_id)

    app.state.after_connect = after_connect
    install_handlers(app)
    install_openapi(app)
    # Outermost last: every request is logged, then bounded (hub.core.guard), then routed.
    app.add_middleware(EdgeGuard, limits=Limits.from_settings(settings))
    app.add_middleware(RequestLogMiddleware)

    for r in (
        health_router,
        accounts_router,
        catalog_router,
        connections_router,
        oauth_router,
        audit_router,
        runs_router,
        test_router,
        approvals_router,
        permissions_router,
        mcp_servers_router,
        mcp_oauth_router,
        web_router,
        payments_router,
    ):
        app.include_router(r)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")
    # Streamable HTTP, stateless; an exact path (a Mount would redirect /mcp to /mcp/), and
    # first, so MCP requests skip matching every REST router.
    app.router.routes.insert(0, Route(MCP_PATH, endpoint=mcp_endpoint))
    # Every REST tool call, likewise first and without FastAPI's request handling.
    app.router.routes.insert(1, Route(CALL_PATH, endpoint=call_tool, methods=["POST"]))
    app.router.routes.insert(2, Route(EDGE_PATH, endpoint=resolve_credentials, methods=["POST"]))
    app.router.routes.insert(3, Route(STEPS_PATH, endpoint=record_step, methods=["POST"]))
    webhooks.install(app)  # inbound vendor webhooks (hub.webhooks), in their own lane
    return app
