"""`hub connections list | test`: a tenant's connections and Save & Test, from the shell."""

from __future__ import annotations

import anyio
import typer
from rich.table import Table

from hub.accounts import service as accounts
from hub.cli.common import console, fail, runtime
from hub.connections import service as connections
from hub.runs.testcall import test_connection

connections_app = typer.Typer(help="A tenant's connections: list, test.", no_args_is_help=True)


@connections_app.command("list")
def connections_list(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug or id."),
) -> None:
    """Every connection with its health, last error and last test (never a credential)."""
    with runtime(sync_registry=False) as rt, rt.db.session() as s:
        t = accounts.get_tenant(s, tenant)
        table = Table("integration", "status", "account", "last tested", "last error")
        table.add_column("id", no_wrap=True)
        for c in connections.list_connections(s, t.id):
            table.add_row(
                c.integration_slug,
                c.status,
                c.account_label or "",
                c.last_tested_at.isoformat(timespec="seconds") if c.last_tested_at else "never",
                (c.last_error or "")[:80],
                c.id,
            )
        console.print(table)


@connections_app.command("test")
def connections_test(
    integration: str = typer.Argument(..., help="Integration slug (e.g. google_calendar)."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug or id."),
) -> None:
    """Save & Test: run the integration's test call through n8n against the vendor; the answer
    sets the connection's status (exit 1 unless it is connected afterwards)."""
    with runtime(sync_registry=False) as rt:
        with rt.db.session() as s:
            t = accounts.get_tenant(s, tenant)
            conn = connections.connection_for(s, t.id, integration)
            if conn is None:
                raise fail(
                    f"tenant {t.slug} has no {integration} connection: connect it first "
                    "(console Integrations page, or POST /api/connections)."
                )
            tenant_id, conn_id = t.id, conn.id
        got = anyio.run(test_connection, rt.calls, tenant_id, conn_id)
        console.print(f"{integration}: {got['status']}. {got['message']}")
        if got["status"] != "connected":
            raise typer.Exit(1)
