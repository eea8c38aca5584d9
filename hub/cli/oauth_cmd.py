"""`hub oauth register | list`: the OAuth apps registered at each provider (the instance's,
and tenants' own)."""

from __future__ import annotations

import sys

import typer

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
    tenant: str = typer.Option(
        None, help="Register a tenant's own app (id or slug), used by that tenant only."
    ),
    authorize_url: str = typer.Option(None, help="Override the registry's authorize endpoint."),
    token_url: str = typer.Option(None, help="Override the registry's token endpoint."),
    revoke_url: str = typer.Option(None, help="Override the registry's revocation endpoint."),
) -> None:
    """Register (or replace) a provider's OAuth app; prints the redirect URI to register."""
    from hub.accounts.service import get_tenant
    from hub.connections.oauth.apps import redirect_uri, register_app, register_tenant_app

    if tenant and (authorize_url or token_url or revoke_url):
        raise fail(
            "a tenant's app uses the instance's endpoints (or the registry's): drop "
            "--authorize-url, --token-url and --revoke-url, or set them on the instance's app "
            "(without --tenant)."
        )
    # Never an argument: it would sit in the shell history and the process list.
    secret = sys.stdin.readline().strip() if secret_stdin else None
    with runtime() as rt, rt.db.session() as s:
        try:
            if tenant:
                register_tenant_app(
                    s,
                    rt.vault,
                    get_tenant(s, tenant).id,
                    "cli",
                    integration=integration,
                    client_id=client_id,
                    client_secret=secret,
                )
            else:
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
        whose = f"tenant {tenant}'s" if tenant else "the instance's"
        console.print(f"registered {whose} OAuth app for {integration}")
        console.print(
            f"redirect URI to register at the provider: {redirect_uri(rt.settings.base_url)}"
        )


@oauth_app.command("list")
def list_() -> None:
    """The registered apps (client ids and masked secrets), the instance's then tenants'."""
    from hub.accounts.service import list_tenants
    from hub.connections.oauth.apps import list_apps, list_tenant_apps, redirect_uri, secret_hint

    with runtime() as rt, rt.db.session() as s:
        rows: list[tuple[str, ...]] = []
        for a in list_apps(s):
            hint = secret_hint(s, rt.vault, a) or ""
            rows.append(
                (a.integration_slug, "instance", a.client_id, hint, a.token_url or "(registry)")
            )
        for t in list_tenants(s):
            for ta in list_tenant_apps(s, t.id):
                hint = secret_hint(s, rt.vault, ta) or ""
                rows.append((ta.integration_slug, f"tenant {t.slug}", ta.client_id, hint, "-"))
        # Plain aligned lines, never wrapped or cut: client ids are copied from here and
        # Google's are 70 characters long.
        head = ("integration", "scope", "client id", "client secret", "token endpoint")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
        for r in [head, *rows]:
            cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)] + [r[-1]]
            console.print("  ".join(cells), soft_wrap=True, highlight=False, markup=False)
        console.print(f"redirect URI: {redirect_uri(rt.settings.base_url)}")
