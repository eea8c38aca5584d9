"""Shared CLI plumbing: opening the runtime and turning errors into clear exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from hub.core.errors import HubError
from hub.core.settings import Settings, get_settings
from hub.runtime import Runtime, open_runtime
from vault import VaultError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error line and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def runtime(*, migrate: bool = True, sync_registry: bool = True) -> Iterator[Runtime]:
    """Open the hub's runtime for one command; known failures become one clear line."""
    settings: Settings = get_settings()
    try:
        rt = open_runtime(settings, migrate=migrate, sync_registry=sync_registry)
    except VaultError as exc:
        raise fail(str(exc), 2) from None
    except HubError as exc:
        raise fail(exc.message, 2) from None
    for note in rt.notes:
        err_console.print(f"[yellow]note:[/] {note}")
    try:
        yield rt
    except (HubError, VaultError) as exc:
        raise fail(getattr(exc, "message", str(exc))) from None
    finally:
        rt.close()
