"""`hub vault status | rotate | rewrap | retire`."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.common import console, runtime

vault_app = typer.Typer(
    help="Key ring status, rotation, rewrap and retirement.", no_args_is_help=True
)


@vault_app.command("status")
def status() -> None:
    """Show key versions and how many credentials each protects."""
    with runtime(sync_registry=False) as rt, rt.db.session() as s:
        table = Table("version", "status", "credentials", "created", "retired")
        for v in rt.vault.status(s):
            label = f"{v.version}{' (current)' if v.is_current else ''}"
            table.add_row(
                label,
                v.status,
                str(v.credentials),
                v.created_at.isoformat(timespec="seconds"),
                v.retired_at.isoformat(timespec="seconds") if v.retired_at else "",
            )
        console.print(table)


@vault_app.command("rotate")
def rotate() -> None:
    """Add a key version; new writes use it, old rows still decrypt."""
    with runtime(sync_registry=False) as rt, rt.db.session() as s:
        version = rt.vault.rotate(s)
        console.print(
            f"key version {version} is now current. "
            "Run `hub vault rewrap` to move existing credentials to it."
        )


@vault_app.command("rewrap")
def rewrap() -> None:
    """Move every credential to the current key version (no plaintext is shown)."""
    with (
        runtime(sync_registry=False) as rt,
        rt.db.session() as s,
        Progress(
            TextColumn("rewrapping"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar,
    ):
        task = bar.add_task("rewrap", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        n = rt.vault.rewrap(s, on_progress=on_progress)
    console.print(f"{n} credential(s) rewrapped to the current key version.")


@vault_app.command("retire")
def retire(version: int) -> None:
    """Retire a key version no credential uses any more (its key material is destroyed)."""
    with runtime(sync_registry=False) as rt, rt.db.session() as s:
        rt.vault.retire(s, version)
        console.print(f"key version {version} retired; ciphertext under it can no longer be read.")
