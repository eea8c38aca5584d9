"""`hub events list | replay`: inbound webhook events and their delivery, from the shell."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.accounts import service as accounts
from hub.cli.common import console, runtime
from hub.webhooks import service as webhooks

events_app = typer.Typer(help="Inbound webhook events: list, replay.", no_args_is_help=True)


@events_app.command("list")
def events_list(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug or id."),
    status: str = typer.Option(None, help="received, delivering, delivered or dead."),
    provider: str = typer.Option(None, help="e.g. stripe"),
    limit: int = typer.Option(50, min=1, max=200),
) -> None:
    """Newest events first, with status, attempts and the last error."""
    with runtime(sync_registry=False) as rt, rt.db.session() as s:
        t = accounts.get_tenant(s, tenant)
        rows = webhooks.list_events(s, t.id, status=status, provider=provider, limit=limit)
        table = Table("received", "provider", "type", "status", "attempts", "last error")
        table.add_column("id", no_wrap=True)
        for e in rows:
            table.add_row(
                e.received_at.isoformat(timespec="seconds"),
                e.provider,
                e.event_type,
                e.status,
                str(e.attempts),
                (e.last_error or "")[:80],
                e.id,
            )
        console.print(table)
        console.print(f"{webhooks.dead_count(s, t.id)} dead-lettered")


@events_app.command("replay")
def events_replay(
    event_ids: list[str] = typer.Argument(None, help="Event ids (evt_...)."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug or id."),
    dead: bool = typer.Option(False, "--dead", help="Replay every dead-lettered event."),
) -> None:
    """Queue events for delivery again (a running hub delivers them within seconds)."""
    with runtime(sync_registry=False) as rt, rt.db.session() as s:
        t = accounts.get_tenant(s, tenant)
        ids = list(event_ids or [])
        if dead:
            ids += [e.id for e in webhooks.list_events(s, t.id, status="dead", limit=200)]
        if not ids:
            raise typer.BadParameter("give event ids, or --dead")
        for event_id in ids:
            webhooks.replay(s, t.id, "cli", event_id)
        console.print(f"{len(ids)} event(s) queued for delivery again")
