"""`hub mcp-servers add|authorize|list|refresh|remove|approve|reject`: a tenant's remote MCP
servers."""

from __future__ import annotations

import os

import anyio
import typer
from rich.table import Table

from hub.accounts import service as accounts
from hub.cli.common import console, fail, runtime
from hub.core.errors import HubError
from hub.core.outbound import parse_allow
from hub.federation import service
from hub.federation.refresh import refresh
from hub.runtime import Runtime

mcp_servers_app = typer.Typer(
    help="Remote MCP servers: register, refresh, approve their tools.", no_args_is_help=True
)
TENANT = typer.Option(..., "--tenant", help="Tenant slug or id.")


def _refresh_now(rt: Runtime, tenant_id: str, server_id: str) -> None:
    try:
        report = anyio.run(refresh, rt.db, rt.vault, rt.settings, tenant_id, server_id, "cli")
    except HubError as exc:
        console.print(f"[yellow]refresh failed:[/] {exc.message}")
        return
    r = report.to_dict()
    console.print(
        f"{r['tools']} tool(s); new: {', '.join(r['new']) or '-'}; held: "
        f"{', '.join(r['held']) or '-'}; removed: {', '.join(r['removed']) or '-'}"
    )


@mcp_servers_app.command("add")
def add(
    name: str,
    url: str,
    tenant: str = TENANT,
    transport: str = typer.Option("auto", help="auto, streamable_http or sse."),
    auth: str = typer.Option("none", help="none, bearer, header or oauth."),
    header: str = typer.Option("", help="header auth: the header's name."),
    secret_env: str = typer.Option(
        "",
        help="Read the bearer token, header value or OAuth client secret from this "
        "environment variable.",
    ),
    client_id: str = typer.Option(
        "", help="oauth: a client pre-registered at the server's authorization server."
    ),
    interval: int = typer.Option(3600, help="Refresh interval in seconds."),
) -> None:
    """Register a server and list its tools (they arrive pending approval)."""
    fields: dict[str, str] = {"type": auth}
    if auth in ("bearer", "header"):
        value = os.environ.get(secret_env, "") if secret_env else ""
        if not value:
            raise fail("give the secret in an environment variable named by --secret-env")
        fields["token" if auth == "bearer" else "value"] = value
        if auth == "header":
            fields["header"] = header
    elif auth == "oauth" and client_id:
        fields["client_id"] = client_id
        if secret_env:
            fields["client_secret"] = os.environ.get(secret_env, "")
    with runtime() as rt:
        with rt.db.session() as s:
            t = accounts.get_tenant(s, tenant)
            m = service.register(
                s,
                rt.vault,
                t.id,
                "cli",
                name=name,
                url=url,
                transport=transport,
                auth=fields,
                allow=parse_allow(rt.settings.outbound_allow),
                refresh_interval_s=interval,
            )
            tenant_id, server_id = t.id, m.id
        console.print(f"server [bold]{name}[/] registered: {server_id}")
        if auth == "oauth":
            console.print(
                f"next: [bold]hub mcp-servers authorize {name} --tenant {tenant}[/] (an admin "
                "consents in a browser; the running hub receives the callback)"
            )
            return
        _refresh_now(rt, tenant_id, server_id)


@mcp_servers_app.command("authorize")
def authorize_cmd(server: str, tenant: str = TENANT) -> None:
    """Start authorizing an OAuth server: prints the URL an admin opens to consent."""
    from hub.federation import authorize

    with runtime() as rt:
        with rt.db.session() as s:
            tenant_id = accounts.get_tenant(s, tenant).id
        try:
            url = anyio.run(
                lambda: authorize.start(
                    rt.db,
                    rt.vault,
                    rt.settings,
                    tenant_id=tenant_id,
                    user_id=None,
                    actor="cli",
                    server_id=server,
                )
            )
        except HubError as exc:
            raise fail(exc.message) from None
        console.print("open this URL in a browser, sign in and consent (valid 10 minutes):")
        # soft_wrap: the URL must stay one line to be copied whole.
        console.print(url, soft_wrap=True, highlight=False)
        back = authorize.callback_uri(rt.settings.base_url)
        console.print(f"the authorization server then sends you to {back}")


@mcp_servers_app.command("list")
def list_(tenant: str = TENANT) -> None:
    """List servers with their health and tools by state."""
    with runtime() as rt, rt.db.session() as s:
        t = accounts.get_tenant(s, tenant)
        table = Table("id", "name", "url", "health", "tools", "needs review", "last error")
        for m in service.list_servers(s, t.id):
            tools = service.tools_of(s, m.id)
            states: dict[str, int] = {}
            for x in tools:
                states[x.state] = states.get(x.state, 0) + 1
            review = ", ".join(x.name for x in tools if x.state in ("pending", "held"))
            table.add_row(
                m.id,
                m.name,
                m.url,
                m.health,
                " ".join(f"{k}:{v}" for k, v in sorted(states.items())),
                review or "-",
                (m.last_error or "")[:60],
            )
        console.print(table)


@mcp_servers_app.command("refresh")
def refresh_cmd(server: str, tenant: str = TENANT) -> None:
    """List a server's tools now (changed approved tools are held)."""
    with runtime() as rt:
        with rt.db.session() as s:
            t = accounts.get_tenant(s, tenant)
            m = service.get_server(s, t.id, server)
            ids = (t.id, m.id)
        _refresh_now(rt, *ids)


@mcp_servers_app.command("approve")
def approve(
    server: str,
    tool: str,
    tenant: str = TENANT,
    permission: str = typer.Option(
        "", help="unrestricted, soft_limit or requires_authorization (default: proposed)."
    ),
) -> None:
    """Approve a tool as listed now; shows what changed since the last approval."""
    with runtime() as rt, rt.db.session() as s:
        t = accounts.get_tenant(s, tenant)
        row = service.find_tool(s, t.id, server, tool)
        for d in service.tool_diff(row):
            console.print(f"[yellow]changed[/] {d['field']}: {d['before']!r} -> {d['after']!r}")
        row = service.approve(s, t.id, "cli", server, tool, permission or None)
        console.print(f"{row.exposed_name} approved as {row.permission}")


@mcp_servers_app.command("reject")
def reject(server: str, tool: str, tenant: str = TENANT) -> None:
    """Reject a tool (never offered to agents)."""
    with runtime() as rt, rt.db.session() as s:
        t = accounts.get_tenant(s, tenant)
        row = service.reject(s, t.id, "cli", server, tool)
        console.print(f"{row.exposed_name} rejected")


@mcp_servers_app.command("remove")
def remove(server: str, tenant: str = TENANT) -> None:
    """Remove a server, its tools and its stored secret."""
    with runtime() as rt, rt.db.session() as s:
        t = accounts.get_tenant(s, tenant)
        service.remove(s, rt.vault, t.id, "cli", server)
        console.print(f"server {server} removed")
