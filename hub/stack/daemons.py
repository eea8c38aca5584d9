"""One detached process of the stack: started in its own session, recorded, stopped by group.

A record holds the pid and the process's start time (from /proc, via psutil): ``stop`` and
``alive`` act only when both still match, so a pid the kernel gave to another process after
ours died is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

# Popen objects of the children this process started: reaped when they exit, so that a
# test that kills one sees it gone instead of a zombie.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class Daemon:
    """Where one stack process runs and how it stops."""

    name: str
    pid: int
    started: float  # psutil create_time, to recognise the process later
    log: str
    stop_signal: int = int(signal.SIGTERM)

    def to_json(self) -> dict[str, Any]:
        """The record for stack.json."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Daemon:
        """A record read back from stack.json."""
        return cls(**dict(data))

    def process(self) -> psutil.Process | None:
        """Our process, if it still runs (not a zombie, not a reused pid)."""
        child = _CHILDREN.get(self.pid)
        if child is not None and child.poll() is not None:
            _CHILDREN.pop(self.pid, None)
            return None
        try:
            p = psutil.Process(self.pid)
            if abs(p.create_time() - self.started) > 1.0:
                return None
            if p.status() == psutil.STATUS_ZOMBIE:
                return None
            return p
        except psutil.Error:
            return None

    def alive(self) -> bool:
        """Whether the recorded process runs."""
        return self.process() is not None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process's whole group (its children too)."""
        if self.process() is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 15.0) -> None:
        """Its stop signal to the group, then SIGKILL to what is left after ``timeout`` s."""
        p = self.process()
        if p is None:
            return
        group = _group_members(self.pid)
        self.signal(self.stop_signal)
        _, alive = psutil.wait_procs([p, *group], timeout=timeout)
        for q in alive:
            with contextlib.suppress(psutil.Error):
                q.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # anything it spawned meanwhile
        psutil.wait_procs(alive, timeout=5)
        child = _CHILDREN.pop(self.pid, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(5)


def _group_members(pgid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if os.getpgid(p.pid) == pgid:
                out.append(p)
    return out


def spawn(
    name: str,
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Daemon:
    """Start ``cmd`` detached (own session and process group), output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        fh.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            list(cmd),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
    _CHILDREN[proc.pid] = proc
    started = psutil.Process(proc.pid).create_time()
    return Daemon(name, proc.pid, started, str(log), int(stop_signal))
