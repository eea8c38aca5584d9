"""`hub workflows lint | deploy | status | pull | rollback`: the n8n workflow files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.common import console, fail, runtime
from hub.core.settings import get_settings
from hub.n8n.deploy import deploy_all
from hub.n8n.lint import LintProblem, errors, lint_file, lint_folder
from hub.n8n.status import status as binding_status
from hub.n8n.versions import pull as do_pull
from hub.n8n.versions import rollback as do_rollback
from hub.n8n.workflows import candidate_files, default_folder

workflows_app = typer.Typer(
    help="Versioned n8n workflows: lint, deploy, status and drift, pull, rollback.",
    no_args_is_help=True,
)

FOLDER_HELP = "Workflows folder (default: HUB_WORKFLOWS_DIR or n8n_workflows/)."

ACTION_STYLE = {
    "created": "green",
    "updated": "green",
    "unchanged": "dim",
    "refused": "red",
    "drifted": "yellow",
    "failed": "red",
}


def _version(value: str) -> int:
    text = value.strip().lower().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise fail(f"not a version: {value!r} (use 2 or v2)", 2)
    return int(text)


def _print_problems(out: Console, problems: list[LintProblem]) -> None:
    for p in problems:
        colour = "red" if p.is_error else "yellow"
        where = f"{p.file}:{p.path}" if p.path else p.file
        out.print(
            f"[bold]{escape(where)}[/bold]: [{colour}]{p.severity}[/{colour}] {escape(p.reason)}"
        )


@workflows_app.command("lint")
def lint(
    path: Annotated[
        Path | None,
        typer.Argument(help="A workflow file or folder (default: the workflows folder)."),
    ] = None,
) -> None:
    """Check workflow files against the hub's contract; exit 1 on any error."""

    target = path or default_folder(get_settings())
    out = Console(highlight=False, soft_wrap=True)  # one problem per line, greppable
    if target.is_file():
        problems, count = lint_file(target), 1
    else:
        problems, count = lint_folder(target), len(candidate_files(target))
    _print_problems(out, problems)
    errs = errors(problems)
    warns = len(problems) - len(errs)
    if errs:
        out.print(
            f"[red]{len(errs)} error(s)[/red], {warns} warning(s) in "
            f"{len({p.file for p in errs})} file(s) under {target}"
        )
        raise typer.Exit(code=1)
    out.print(f"[green]0 errors[/green], {warns} warning(s): {count} workflow file(s) in {target}")


@workflows_app.command("deploy")
def deploy(
    no_promote: Annotated[
        bool,
        typer.Option("--no-promote", help="Deploy and publish; leave the bindings alone."),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="integration/tool to deploy (repeatable; default: all)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite changes made in the n8n editor.")
    ] = False,
    folder: Annotated[
        Path | None,
        typer.Option(help=FOLDER_HELP),
    ] = None,
) -> None:
    """Lint, then create or update and publish every workflow version in n8n."""

    with (
        runtime() as rt,
        Progress(
            TextColumn("deploying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, label: str) -> None:
            """Show deploy's progress on the bar."""
            bar.update(task, completed=done, total=total, description=escape(label))

        results = deploy_all(
            rt, folder=folder, promote=not no_promote, only=only, on_progress=progress, force=force
        )
    table = Table("workflow", "version", "result", "live", "n8n id", "detail")
    for r in results:
        style = ACTION_STYLE.get(r.action, "")
        table.add_row(
            f"{r.integration}/{r.tool}",
            f"v{r.version}",
            f"[{style}]{r.action}[/{style}]" if style else r.action,
            "yes" if r.live else "",
            r.n8n_id or "",
            escape(r.message),
        )
    console.print(table)
    for r in results:
        if r.problems:
            _print_problems(console, r.problems)
    bad = [r for r in results if not r.ok]
    if bad:
        raise fail(f"{len(bad)} of {len(results)} workflow version(s) not deployed")
    console.print(f"[green]{len(results)} workflow version(s) deployed[/green]")


@workflows_app.command("status")
def status(
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list bindings with no workflow file or deployment.")
    ] = False,
) -> None:
    """Each binding's live version, deployed versions, files and drift."""

    with runtime() as rt:
        rows = binding_status(rt)
    table = Table("tool", "workflow", "live", "deployed", "files", "state")
    notes: list[str] = []
    n8n_error = next((r.n8n_error for r in rows if r.n8n_error), None)
    for r in rows:
        if not show_all and not (r.files or r.deployed):
            continue
        state: list[str] = []
        if r.drift:
            vs = ", ".join(f"v{v}" for v in r.drift)
            state.append(f"[red]drift in {vs}[/red]")
            for v in r.drift:
                notes.append(
                    f"[red]{r.workflow} v{v}[/red] changed in the n8n editor: run "
                    f"`hub workflows pull {r.integration} {r.workflow.split('/', 1)[1]} "
                    f"--from {v}`"
                )
        if r.file_changed:
            state.append(
                "[yellow]file changed: " + ", ".join(f"v{v}" for v in r.file_changed) + "[/yellow]"
            )
        if r.not_deployed:
            state.append(
                "[yellow]not deployed: " + ", ".join(f"v{v}" for v in r.not_deployed) + "[/yellow]"
            )
        if r.missing_in_n8n:
            state.append(
                "[red]missing in n8n: " + ", ".join(f"v{v}" for v in r.missing_in_n8n) + "[/red]"
            )
        if r.unpublished:
            state.append(
                "[red]unpublished: " + ", ".join(f"v{v}" for v in r.unpublished) + "[/red]"
            )
        if r.files and r.live_version is None:
            state.append("[yellow]no live version[/yellow]")
        table.add_row(
            r.tool,
            r.workflow,
            f"v{r.live_version}" if r.live_version else "-",
            ", ".join(f"v{v}" for v in r.deployed) or "-",
            ", ".join(f"v{v}" for v in r.files) or "-",
            "; ".join(state) or ("[green]ok[/green]" if not r.n8n_error else "[dim]?[/dim]"),
        )
    console.print(table)
    if n8n_error:
        console.print(f"[yellow]drift not checked:[/yellow] {escape(n8n_error)}")
    for n in dict.fromkeys(notes):
        console.print(n)


@workflows_app.command("pull")
def pull(
    integration: Annotated[str, typer.Argument(help="Integration slug, e.g. twilio.")],
    tool: Annotated[str, typer.Argument(help="Tool name, e.g. send_sms.")],
    from_version: Annotated[
        str | None,
        typer.Option("--from", help="Deployed version to pull (default: the live one)."),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(help=FOLDER_HELP),
    ] = None,
) -> None:
    """Save n8n's current copy of a deployed version as the next version's file."""

    version = _version(from_version) if from_version else None
    with runtime() as rt:
        path = do_pull(rt, integration, tool, from_version=version, folder=folder)
    console.print(f"wrote [bold]{escape(str(path))}[/bold]")
    problems = lint_file(path)
    _print_problems(console, problems)
    if errors(problems):
        raise fail("the pulled workflow breaks the contract; fix it before deploying")
    console.print("review the diff, then run `hub workflows deploy` to publish and promote it")


@workflows_app.command("rollback")
def rollback(
    integration: Annotated[str, typer.Argument(help="Integration slug, e.g. twilio.")],
    tool: Annotated[str, typer.Argument(help="Tool name, e.g. send_sms.")],
    to: Annotated[str, typer.Option("--to", help="Version to make live again (2 or v2).")],
) -> None:
    """Move the binding back to an earlier deployed (and still published) version."""

    version = _version(to)
    with runtime() as rt:
        r = do_rollback(rt, integration, tool, version)
    was = f"v{r.previous}" if r.previous else "none"
    console.print(
        f"{integration}/{tool}: live version v{r.live_version} (was {was}) for "
        f"{', '.join(r.bindings)}"
    )
