"""`hub up`: everything for a local run, no Docker: n8n, the vendor sandbox, the hub, a demo."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.panel import Panel
from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.cli.common import console, err_console, fail, runtime
from hub.core.errors import HubError
from hub.core.installs import InstallError
from hub.core.settings import Settings, get_settings
from hub.core.shutdown import orderly_stop
from hub.n8n.bootstrap import ensure_api_key
from hub.n8n.deploy import deploy_all
from hub.n8n.install import N8nInstall, ensure_n8n
from hub.n8n.local import LocalN8n, N8nStartError
from hub.runtime import Runtime, reconcile_on_start

if TYPE_CHECKING:
    from hub.sandbox import Sandbox
    from hub.sandbox.authserver import AuthServer


def _step(label: str, started: float) -> None:
    console.print(f"[green]ok[/] {label} [dim]({time.monotonic() - started:.1f} s)[/]")


DEMO_OWNER = "owner@demo.local"


def demo_owner(s: Session, tenant_id: str) -> str:
    """(Re)set the demo tenant's console owner to a fresh random password; returns it."""
    password = secrets.token_urlsafe(12)
    user = accounts.find_user(s, tenant_id, DEMO_OWNER)
    if user is None:
        accounts.create_user(s, tenant_id, DEMO_OWNER, password, role="owner", name="Demo owner")
    else:
        accounts.set_password(user, password)
    return password


def up(
    port: int = typer.Option(8000, help="Hub port."),
    n8n_port: int = typer.Option(5678, help="Local n8n port (and port+1 for its task broker)."),
    sandbox_port: int = typer.Option(4010, help="Vendor sandbox port (mocks use the next ones)."),
    demo: bool = typer.Option(True, help="Create the demo tenant wired to the sandbox."),
) -> None:
    """Install what is missing, start n8n, the sandbox and the hub; deploy; print how to connect."""
    # Imported here: the server and the sandbox load only for this command.
    from hub.sandbox import ensure_prism
    from hub.sandbox.authserver import ensure_oidc_provider

    t0 = time.monotonic()
    settings = get_settings()
    settings.port = port
    if "HUB_LOG_FORMAT" not in os.environ:
        settings.log_format = "console"  # a person is watching this terminal
    if "HUB_OUTBOUND_ALLOW" not in os.environ:
        # The local demo: an MCP server an admin tries out usually runs on this machine.
        settings.outbound_allow = "127.0.0.0/8,::1"
    try:
        install = ensure_n8n(progress=True)
        prism = ensure_prism(progress=True)
        if demo:  # the demo's calendars connect through the sandbox's authorization server
            ensure_oidc_provider(progress=True)
    except InstallError as exc:
        raise fail(str(exc), 2) from None
    _step("n8n, Prism" + (" and oidc-provider" if demo else "") + " installed", t0)

    try:
        with orderly_stop():
            _run(install, prism, settings, port, n8n_port, sandbox_port, demo, t0)
    except KeyboardInterrupt:
        pass  # SIGINT or SIGTERM: the children were stopped on the way out
    console.print("stopped")


def _run(
    install: N8nInstall,
    prism: Path,
    settings: Settings,
    port: int,
    n8n_port: int,
    sandbox_port: int,
    demo: bool,
    t0: float,
) -> None:
    """Start the parts in order; every one is stopped on the way out, however it ends."""
    import uvicorn

    from hub.app import create_app
    from hub.connections.oauth.apps import redirect_uri
    from hub.core.server import server_config, settle_heap
    from hub.sandbox import Sandbox, SandboxError
    from hub.sandbox.demo import ensure_demo_tenant
    from hub.sandbox.oauth import demo_auth_server

    with ExitStack() as stack, runtime() as rt:
        # die_with_parent: even a kill -9 of this process takes n8n and Prism with it.
        n8n = LocalN8n(install, settings.data_dir / "n8n", n8n_port, die_with_parent=True)
        stack.callback(n8n.stop)  # before start: a signal during start-up stops it too
        try:
            with console.status("starting n8n"):
                n8n_url = n8n.start()
        except N8nStartError as exc:
            raise fail(str(exc), 2) from None
        _step(f"n8n at {n8n_url}", t0)
        try:
            ensure_api_key(rt, n8n_url)
        except HubError as exc:
            raise fail(exc.message, 2) from None

        sandbox = Sandbox(
            prism, sandbox_port, log_dir=settings.data_dir / "sandbox", die_with_parent=True
        )
        stack.callback(sandbox.stop)
        try:
            with console.status("starting the vendor sandbox"):
                sandbox.start()
        except SandboxError as exc:
            raise fail(str(exc), 2) from None
        _step(f"vendor sandbox at {sandbox.proxy_url}", t0)
        auth = demo_auth_server(rt, settings.data_dir, redirect_uri(settings.base_url))
        if demo and auth.clients:
            # The sandbox's OAuth provider for the demo's calendars; its grants are kept in
            # the data folder, so the next run's tokens still refresh.
            stack.callback(auth.stop)  # before start, like the others
            try:
                with console.status("starting the sandbox's OAuth authorization server"):
                    auth.start()
            except SandboxError as exc:
                raise fail(str(exc), 2) from None
            _step(f"OAuth authorization server at {auth.url}", t0)

        try:
            with console.status("deploying workflows"):
                results = deploy_all(rt)
        except HubError as exc:
            raise fail(exc.message, 2) from None
        rt.calls.refresh_hop()
        _step(f"{len(results)} workflow version(s) deployed", t0)

        base = settings.base_url
        lines = [
            f"API docs     {base}/docs",
            f"console      {base}/authorizations",
            f"n8n editor   {n8n_url}",
        ]
        if demo:
            with rt.db.session() as s:
                cal = sandbox.caldav
                tenant_id, made = ensure_demo_tenant(
                    s, rt.vault, sandbox.base_url, caldav=(cal.user, cal.password) if cal else None
                )
                for tok in accounts.list_tokens(s, tenant_id):
                    if tok.name.startswith("hub up") and tok.revoked_at is None:
                        accounts.revoke_token(s, tok.id)  # one live pair of demo tokens
                _, agent = accounts.create_token(s, tenant_id, "agent", "hub up agent")
                _, admin = accounts.create_token(s, tenant_id, "admin", "hub up admin")
                password = demo_owner(s, tenant_id)
            lines += [
                f"demo tenant  demo ({', '.join(made)} via the sandbox)",
                f"console      sign in as {DEMO_OWNER} / {password}",
                f"agent token  {agent}",
                f"admin token  {admin}",
            ]
            mcp = {
                "mcpServers": {
                    "hub": {
                        "type": "http",
                        "url": f"{base}/mcp",
                        "headers": {"Authorization": f"Bearer {agent}"},
                    }
                }
            }
        reconcile_on_start(rt)
        server = uvicorn.Server(
            server_config(create_app(runtime=rt), settings, host=settings.host, port=port)
        )
        settle_heap()

        def when_serving() -> None:
            # The calendars connect through the hub's own callback and Save & Test runs
            # through n8n and the hub's edge: both need the server, so this waits for it.
            while not server.started:
                if server.should_exit:
                    return
                time.sleep(0.05)
            if demo:
                try:
                    with console.status("connecting the demo calendars through OAuth"):
                        lines.extend(_demo_calendars(rt, auth, sandbox, tenant_id, base, admin))
                except Exception as exc:  # the panel must come whatever went wrong here
                    if server.should_exit:
                        return  # stopping: the hub went away under the flow
                    lines.append(f"calendars    not connected: {str(exc)[:200]}")
            console.print(
                Panel(
                    "\n".join(lines),
                    title=f"hub ready in {time.monotonic() - t0:.1f} s",
                    expand=False,
                )
            )
            if demo:
                # Outside the panel, unwrapped, so it pastes into an MCP client's settings.
                console.print("MCP client config (HTTP):")
                print(json.dumps(mcp, indent=2), flush=True)
            err_console.print("[dim]Ctrl-C stops the hub, the sandbox and n8n.[/]")

        threading.Thread(target=when_serving, name="hub-up-ready", daemon=True).start()
        server.run()


def _demo_calendars(
    rt: Runtime, auth: AuthServer, sandbox: Sandbox, tenant_id: str, base: str, admin: str
) -> list[str]:
    """Connect (or keep) the demo's calendars by OAuth; the panel's lines about them."""
    from hub.sandbox.oauth import DEMO_LOGIN, connect_demo_calendars

    if not auth.clients:
        return ["calendars    not connected: an operator registered real OAuth apps for them"]
    results = connect_demo_calendars(rt, auth, sandbox, tenant_id, base, admin)
    ok = [r for r in results if r.status == "connected"]
    lines = []
    if ok:
        how = ", ".join(f"{r.integration} ({r.outcome})" for r in ok)
        lines.append(f"calendars    {how}: connected by OAuth")
    for r in results:
        if r.status != "connected":
            lines.append(f"calendars    {r.integration} not connected ({r.status}): {r.message}")
    lines.append(f"OAuth server {auth.url} (sign in as {DEMO_LOGIN}, any password)")
    return lines
