"""`hub tenants`, `hub users`, `hub tokens`."""

from __future__ import annotations

import getpass
import os

import typer
from rich.table import Table

from hub.accounts import service
from hub.audit.service import record
from hub.cli.common import console, err_console, fail, runtime

tenants_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
users_app = typer.Typer(help="Create console users.", no_args_is_help=True)
tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@tenants_app.command("create")
def tenants_create(slug: str, name: str = typer.Option("", help="Display name.")) -> None:
    """Create a tenant."""
    with runtime() as rt, rt.db.session() as s:
        t = service.create_tenant(s, slug, name or None)
        record(s, t.id, "cli", "tenant.created", target=t.id)
        console.print(f"tenant [bold]{t.slug}[/] created: {t.id}")


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    with runtime() as rt, rt.db.session() as s:
        table = Table("id", "slug", "name", "created")
        for t in service.list_tenants(s):
            table.add_row(t.id, t.slug, t.name, t.created_at.isoformat(timespec="seconds"))
        console.print(table)


@users_app.command("create")
def users_create(
    email: str,
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug or id."),
    role: str = typer.Option("member", help="owner, admin, ops or member."),
    name: str = typer.Option(""),
    password_env: str = typer.Option(
        "", help="Read the password from this environment variable instead of prompting."
    ),
) -> None:
    """Create a console user (the password is prompted for, or read from an env var)."""
    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            raise fail(f"environment variable {password_env} is empty or unset")
    else:
        password = getpass.getpass("Password (12+ characters): ")
        if getpass.getpass("Again: ") != password:
            raise fail("the passwords differ")
    with runtime() as rt, rt.db.session() as s:
        t = service.get_tenant(s, tenant)
        u = service.create_user(s, t.id, email, password, role=role, name=name)
        record(s, t.id, "cli", "user.created", target=u.id, details={"role": role})
        console.print(f"user {u.email} ({u.role}) created in {t.slug}: {u.id}")


@tokens_app.command("create")
def tokens_create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant slug or id."),
    kind: str = typer.Option(..., "--kind", help="agent, ops or admin."),
    name: str = typer.Option("", help="A label, e.g. 'claude-desktop'."),
) -> None:
    """Create a token and print it once (it is stored only as a hash)."""
    with runtime() as rt, rt.db.session() as s:
        t = service.get_tenant(s, tenant)
        tok, raw = service.create_token(s, t.id, kind, name, created_by="cli")
        record(s, t.id, "cli", "token.created", target=tok.id, details={"kind": kind})
    err_console.print(f"{kind} token {tok.id} for {t.slug} (shown once, store it now):")
    print(raw)


@tokens_app.command("list")
def tokens_list(tenant: str = typer.Option(..., "--tenant")) -> None:
    """List a tenant's tokens (prefixes only)."""
    with runtime() as rt, rt.db.session() as s:
        t = service.get_tenant(s, tenant)
        table = Table("id", "kind", "name", "prefix", "last used", "revoked")
        for tok in service.list_tokens(s, t.id):
            table.add_row(
                tok.id,
                tok.kind,
                tok.name,
                tok.prefix + "...",
                tok.last_used_at.isoformat(timespec="seconds") if tok.last_used_at else "-",
                "yes" if tok.revoked_at else "",
            )
        console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by id."""
    with runtime() as rt, rt.db.session() as s:
        tok = service.revoke_token(s, token_id)
        record(s, tok.tenant_id, "cli", "token.revoked", target=tok.id)
        console.print(f"token {tok.id} revoked")
