"""Process and port helpers for the child processes the hub runs (n8n, the Prism mocks).

Linux first: a process's environment and state are read from ``/proc`` when it exists, and
the parent-death signal is a Linux ``prctl``; elsewhere the helpers degrade to what POSIX
offers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def read_environ(pid: int) -> dict[str, str] | None:
    """The environment ``pid`` started with, or None when ``/proc`` cannot tell."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def set_pdeathsig() -> None:  # pragma: no cover - runs in the child before exec
    """Ask the kernel to SIGTERM this process when its parent dies (Linux only)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def die_with_parent_hook(enabled: bool) -> Callable[[], None] | None:
    """The ``preexec_fn`` that ties a child's life to ours, when asked for and possible."""
    return set_pdeathsig if enabled and sys.platform == "linux" else None


def private_dir(path: Path) -> None:
    """Make a folder the hub owns readable by its owner only (0700)."""
    with contextlib.suppress(OSError):  # not ours to change: leave it as it is
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)


def private_file(path: Path) -> None:
    """Create a file (if missing) readable by its owner only, or make it so (0600)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def private_files() -> None:  # pragma: no cover - runs in the child before exec
    """Make every file the child creates readable by its owner only (umask 077)."""
    os.umask(0o077)


def private_child(die_with_parent: bool) -> Callable[[], None]:
    """A ``preexec_fn`` for children that hold secrets: private files, and optionally tied
    to our life (n8n's database holds workflow credentials and, briefly, request bodies)."""
    tie = die_with_parent_hook(die_with_parent)

    def _preexec() -> None:  # pragma: no cover - runs in the child before exec
        private_files()
        if tie is not None:
            tie()

    return _preexec


def send_signal(pid: int, sig: int, *, group: bool = False) -> None:
    """Send ``sig`` to ``pid`` (or to process group ``pid``); one gone or not ours is ignored."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def log_tail(path: Path, lines: int = 20, *, missing: str = "") -> str:
    """The last ``lines`` lines of a log file, or ``missing`` when it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return missing
    return "\n".join(text.splitlines()[-lines:])
