"""Run a module's check_* functions inside a network namespace that has only loopback.

Tests that prove the hub refuses some address must not be able to reach it even if the
code under test were broken: `unshare -n` gives the child a namespace with no route out,
`ip link set lo up` brings loopback up, and the checks run there. `python -m tests.netns
MODULE` is the child side; `run_checks(MODULE)` is what a pytest test calls.
"""

from __future__ import annotations

import errno
import importlib
import shlex
import socket
import subprocess
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_checks(module: str, timeout: float = 120.0) -> str:
    """Run every check_* of module in a loopback-only namespace; fail with their errors."""
    script = f"ip link set lo up && exec {shlex.quote(sys.executable)} -m tests.netns {module}"
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"checks of {module} failed inside the namespace:\n{out}")
    return out


def _only_loopback() -> None:
    """Refuse to run unless no address beyond loopback is reachable."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("192.0.2.1", 80))
    except OSError as exc:
        if exc.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            raise SystemExit(f"not in a loopback-only namespace: {exc!r}") from exc
    else:
        raise SystemExit("not in a loopback-only namespace: 192.0.2.1 answered")
    finally:
        s.close()


def main(module: str) -> int:
    """Child side: run the checks, print one line each, exit 1 if any failed."""
    _only_loopback()
    mod = importlib.import_module(module)
    failed = 0
    names = sorted(n for n in dir(mod) if n.startswith("check_"))
    for name in names:
        try:
            getattr(mod, name)()
            print(f"ok   {name}")
        except Exception:
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}")
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed or not names else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
