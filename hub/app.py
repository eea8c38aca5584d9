"""The app factory: wires routers, error handlers and start-up. Nothing runs at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from hub import __version__
from hub.core.handlers import install_handlers
from hub.core.logs import configure_logging
from hub.core.middleware import RequestLogMiddleware
from hub.core.runtime import Runtime, open_runtime
from hub.core.settings import Settings, get_settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the hub's ASGI app; pass a Runtime to reuse one already opened."""
    settings = settings or (runtime.settings if runtime else get_settings())
    rt = runtime or open_runtime(settings)
    configure_logging(settings.log_level, settings.log_format)

    from hub.mcp.http import PATH as MCP_PATH
    from hub.mcp.http import McpEndpoint
    from hub.permissions.policy import configure as configure_policy

    configure_policy(settings.registry_dir)
    mcp_endpoint = McpEndpoint(rt)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sched = None
        rt.db.checkpointer.start()
        if settings.scheduler_enabled:
            from hub.scheduler.jobs import Jobs

            sched = Jobs(rt).start()
        async with mcp_endpoint.run():  # the MCP SDK's session manager needs its lifespan
            yield
        if sched is not None:
            sched.stop()
        rt.db.checkpointer.stop()
        if rt.invoker is not None:
            await rt.invoker.aclose()
        if runtime is None:
            rt.close()

    app = FastAPI(
        title="Agent integration hub",
        version=__version__,
        description="Lets AI agents act on a business's accounts through MCP tools, with "
        "credentials they never see and approvals a human gives.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = rt
    app.state.db = rt.db
    app.state.vault = rt.vault
    app.state.mcp = mcp_endpoint
    install_handlers(app)
    app.add_middleware(RequestLogMiddleware)

    from hub.accounts.routes import router as accounts_router
    from hub.audit.routes import router as audit_router
    from hub.connections.routes import router as connections_router
    from hub.core.health import router as health_router
    from hub.permissions.routes import router as permissions_router
    from hub.registry.routes import router as registry_router
    from hub.runs.edge import EDGE_PATH, resolve_credentials
    from hub.runs.routes import CALL_PATH, call_tool
    from hub.runs.routes import router as runs_router
    from hub.web.payments import router as payments_router
    from hub.web.routes import STATIC_DIR, STATIC_PATH
    from hub.web.routes import router as web_router

    for r in (
        health_router,
        accounts_router,
        registry_router,
        connections_router,
        audit_router,
        runs_router,
        permissions_router,
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
    return app
