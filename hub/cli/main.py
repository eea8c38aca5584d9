"""The `hub` command."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import anyio
import typer

from hub.cli.accounts_cmd import tenants_app, tokens_app, users_app
from hub.cli.common import console, fail, runtime
from hub.cli.connections_cmd import connections_app
from hub.cli.events_cmd import events_app
from hub.cli.mcp_servers_cmd import mcp_servers_app
from hub.cli.oauth_cmd import oauth_app
from hub.cli.serve_cmd import provision
from hub.cli.up_cmd import up
from hub.cli.vault_cmd import vault_app
from hub.cli.workflows_cmd import workflows_app
from hub.core.settings import get_settings
from hub.core.shutdown import orderly_stop
from hub.db import migrate
from hub.registry.lint_cmd import registry_lint as _lint
from hub.runtime import Runtime, reconcile_on_start

app = typer.Typer(
    help="Integration hub for AI agents.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
registry_app = typer.Typer(help="The integration and tool catalog.", no_args_is_help=True)

app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(vault_app, name="vault")
app.add_typer(registry_app, name="registry")
app.add_typer(workflows_app, name="workflows")
app.add_typer(mcp_servers_app, name="mcp-servers")
app.add_typer(connections_app, name="connections")
app.add_typer(events_app, name="events")
app.add_typer(oauth_app, name="oauth")
app.command()(up)


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default HUB_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default HUB_PORT or 8000)."),
    provision_n8n: bool = typer.Option(
        False, help="Set up HUB_N8N_URL's owner and API key (kept in the vault) and deploy."
    ),
) -> None:
    """Run the hub's API and console (migrates and seeds the registry first)."""
    # Imported here, like every command's heavy parts: `hub --help` stays fast.
    import uvicorn

    from hub.app import create_app
    from hub.core.server import server_config, settle_heap

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    # SIGTERM (docker, systemd) stops like Ctrl-C: the runtime closes, nothing is cut short.
    with contextlib.suppress(KeyboardInterrupt), orderly_stop(), runtime() as rt:
        if provision_n8n:
            provision(rt)
        reconcile_on_start(rt)
        app_ = create_app(runtime=rt)
        console.print(f"hub {settings.mode} mode, database {rt.db.engine.url.render_as_string()}")
        console.print(f"API and docs: [bold]{settings.base_url}/docs[/]")
        settle_heap()
        uvicorn.Server(server_config(app_, settings, host=settings.host, port=settings.port)).run()


@app.command()
def mcp(
    poll: float = typer.Option(2.0, help="Seconds between checks for tool-list changes."),
) -> None:
    """Serve MCP over stdio for desktop clients; the agent token comes from HUB_TOKEN."""
    # Imported here: only this command needs the MCP server.
    from hub.mcp.stdio import serve_stdio
    from hub.permissions.policy import configure as configure_policy

    token = os.environ.get("HUB_TOKEN", "").strip()
    if not token:
        raise fail("set HUB_TOKEN to an agent token (`hub tokens create --kind agent`)", 2)

    async def _serve(rt: Runtime) -> None:
        try:
            await serve_stdio(rt, token, poll_interval=poll)
        finally:
            await rt.calls.aclose()

    with runtime() as rt:
        configure_policy(rt.settings.registry_dir)
        anyio.run(_serve, rt)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the schema to REVISION (default: head)."""
    with runtime(migrate=False, sync_registry=False) as rt:
        migrate.upgrade(rt.db.engine, revision)
        console.print(f"schema at {migrate.current_revision(rt.db.engine)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision and whether it is the newest."""
    with runtime(migrate=False, sync_registry=False) as rt:
        cur, head = migrate.current_revision(rt.db.engine), migrate.head_revision()
        console.print(f"current {cur}, head {head}: {'up to date' if cur == head else 'behind'}")


@registry_app.command("lint")
def registry_lint(
    path: str = typer.Argument(None, help="Catalog folder (default: shipped)."),
) -> None:
    """Check the catalog files; prints file, path and reason for each problem."""
    _lint(Path(path) if path else None)


@registry_app.command("sync")
def registry_sync() -> None:
    """Load the catalog files into the database (done on every start too)."""
    with runtime():
        console.print("registry synced")


def main() -> None:
    """Entry point for `python -m hub`."""
    app()


__all__ = ["app", "fail", "main"]
