"""`hub registry lint`: check the catalog folder and print every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hub.registry.catalog import collect, default_folder
from hub.registry.problems import LintProblem


def lint(folder: Path) -> list[LintProblem]:
    """Every problem in the catalog folder (empty when it is clean)."""
    _, problems = collect(folder)
    return problems


def registry_lint(
    path: Annotated[
        Path | None,
        typer.Argument(help="Catalog folder (default: HUB_REGISTRY_DIR or registry_seed/)."),
    ] = None,
) -> None:
    """Validate the registry catalog: file schemas, tool JSON Schemas, cross-references."""
    folder = path or default_folder()
    console = Console(highlight=False, soft_wrap=True)  # one problem per line, greppable
    catalog, problems = collect(folder)
    for p in problems:
        where = f"{p.file}:{p.path}" if p.path else p.file
        line = f" [dim](line {p.line})[/dim]" if p.line else ""
        console.print(f"[bold]{escape(where)}[/bold]: {escape(p.reason)}{line}")
    if problems:
        files = len({p.file for p in problems})
        console.print(f"[red]{len(problems)} problem(s) in {files} file(s)[/red] under {folder}")
        raise typer.Exit(code=1)
    assert catalog is not None  # no problems means it was built
    console.print(
        f"[green]0 problems[/green]: {len(catalog.integrations)} integrations, "
        f"{len(catalog.tools)} tools in {folder}"
    )
