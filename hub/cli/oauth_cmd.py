"""`hub oauth register | list`: the operator's OAuth apps, one per provider."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from hub.cli.common import console, fail, runtime
from hub.core.errors import HubError

oauth_app = typer.Typer(help="OAuth apps registered at each provider.", no_args_is_help=True)


@oauth_app.command("register")
def register(
    integration: str = typer.Argument(..., help="The integration slug, e.g. google_calendar."),
    client_id: str = typer.Option(..., help="The app's client id from the provider's console."),
    secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read the client secret from standard input."
    ),
    authorize_url: str = typer.Option(None, help="Override the registry's authorize endpoint."),
    token_url: str = typer.Option(None, help="Override the registry's token endpoint."),
    revoke_url: str = typer.Option(None, help="Override the registry's revocation endpoint."),
) -> None:
    """Register (or replace) a provider's OAuth app; prints the redirect URI to register."""
    from hub.connections.oauth.apps import redirect_uri, register_app

    # Never an argument: it would sit in the shell history and the process list.
    secret = sys.stdin.readline().strip() if secret_stdin else None
    with runtime() as rt, rt.db.session() as s:
        try:
            register_app(
                s,
                rt.vault,
                "cli",
                integration=integration,
                client_id=client_id,
                client_secret=secret,
                authorize_url=authorize_url,
                token_url=token_url,
                revoke_url=revoke_url,
            )
        except HubError as exc:
            raise fail(exc.message) from None
        console.print(f"registered the OAuth app for {integration}")
        console.print(
            f"redirect URI to register at the provider: {redirect_uri(rt.settings.base_url)}"
        )


@oauth_app.command("list")
def list_() -> None:
    """The registered apps (client ids and masked secrets)."""
    from hub.connections.oauth.apps import list_apps, redirect_uri, secret_hint

    with runtime() as rt, rt.db.session() as s:
        table = Table("integration", "client id", "client secret", "token endpoint")
        for a in list_apps(s):
            table.add_row(
                a.integration_slug,
                a.client_id,
                secret_hint(s, rt.vault, a) or "",
                a.token_url or "(registry)",
            )
        console.print(table)
        console.print(f"redirect URI: {redirect_uri(rt.settings.base_url)}")
