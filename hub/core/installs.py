"""npm-install plumbing shared by the n8n and Prism installers.

Each tool is installed once into a per-version folder under the cache root
(``${HUB_CACHE_DIR:-~/.cache/agent-hub}/<tool>/<version>/``). Concurrent installers (two
test sessions) are serialised with a lock file beside that folder; every step's command and
output go to the folder's ``install.log``, and a failing step raises :class:`InstallError`
naming the step and the log. :class:`Reporter` shows the steps to a person.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hub.core.processes import log_tail

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

#: npm and the packages it installs stay quiet and do not phone home.
QUIET_NPM_ENV = {
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "1",
}


class InstallError(RuntimeError):
    """An install step failed; the message names the step and the log file."""

    def __init__(self, message: str, *, step: str, log_path: Path | None = None):
        super().__init__(message)
        self.step = step
        self.log_path = log_path


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir`` if given, else ``$HUB_CACHE_DIR``, else ``~/.cache/agent-hub``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser().resolve()
    env = os.environ.get("HUB_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".cache" / "agent-hub"


def quiet_npm_env() -> dict[str, str]:
    """This process's environment plus :data:`QUIET_NPM_ENV`, for running npm."""
    env = dict(os.environ)
    env.update(QUIET_NPM_ENV)
    return env


def read_stripped(path: Path) -> str | None:
    """The file's text without surrounding whitespace, or None when it cannot be read."""
    try:
        return path.read_text().strip()
    except OSError:
        return None


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def locked_install_dir(install_dir: Path) -> Iterator[None]:
    """Create ``install_dir`` and hold the lock beside it (``.<name>.lock``) for the block."""
    install_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(install_dir.parent / f".{install_dir.name}.lock"):
        yield


def log_note(log_path: Path, text: str) -> None:
    """Append a time-stamped heading line to an install log."""
    with open(log_path, "a") as fh:
        fh.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")


def run_logged(
    cmd: list[str], *, cwd: Path, env: dict[str, str], log_path: Path, step: str
) -> None:
    """Run ``cmd`` with its output appended to ``log_path``; InstallError if it fails."""
    log_note(log_path, f"$ {' '.join(cmd)}  (cwd={cwd})")
    with open(log_path, "ab") as fh:
        try:
            proc = subprocess.run(
                cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            raise InstallError(
                f"step '{step}' could not run {cmd[0]!r}: {exc}. Log: {log_path}",
                step=step,
                log_path=log_path,
            ) from exc
    if proc.returncode != 0:
        raise InstallError(
            f"step '{step}' failed: `{' '.join(cmd)}` exited with {proc.returncode}. "
            f"Full log: {log_path}\n--- last lines ---\n{log_tail(log_path)}",
            step=step,
            log_path=log_path,
        )


def check_prerequisites(tools: Sequence[str], *, installing: str, why: str) -> None:
    """InstallError naming the ``tools`` missing from PATH, and ``why`` they are needed."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise InstallError(
            f"cannot install {installing}: missing prerequisite(s) on PATH: "
            f"{', '.join(missing)}. {why}",
            step="prerequisites",
        )


class Reporter:
    """One line (or one spinner row) per install step with its elapsed time."""

    def __init__(self, enabled: bool, title: str):
        self.enabled = enabled
        self.title = title
        self._progress: Progress | None = None
        self._console: Console | None = None
        if not enabled:
            return
        # Imported here: rich loads only when someone watches an install.
        from rich.console import Console

        self._console = Console(stderr=True)
        if self._console.is_terminal:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(finished_text=""),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=False,
            )

    def __enter__(self) -> Reporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, text: str) -> None:
        """Print a line about the install as a whole."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(f"[dim]{self.title}:[/] {text}")
        else:
            print(f"[{self.title}] {text}", file=sys.stderr, flush=True)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Show ``description`` while the block runs, then done (or failed) with its time."""
        t0 = time.monotonic()
        task: TaskID | None = None
        if self._progress is not None:
            task = self._progress.add_task(f"  {description}", total=1)
        elif self.enabled:
            print(f"[{self.title}] {description} ...", file=sys.stderr, flush=True)
        try:
            yield
        except BaseException:
            if self._progress is not None and task is not None:
                self._progress.update(
                    task, completed=1, description=f"[red]✗ {description} (failed)[/]"
                )
                self._progress.stop_task(task)
            elif self.enabled:
                print(
                    f"[{self.title}] {description}: FAILED after {time.monotonic() - t0:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            raise
        if self._progress is not None and task is not None:
            self._progress.update(task, completed=1, description=f"[green]✓[/] {description}")
            self._progress.stop_task(task)
        elif self.enabled:
            print(
                f"[{self.title}] {description}: done in {time.monotonic() - t0:.1f} s",
                file=sys.stderr,
                flush=True,
            )
