"""The reference MCP server nobody here wrote: npm `@modelcontextprotocol/server-everything`,
installed once into the cache (like Prism and n8n: hub.core.installs) and run in its
streamable HTTP mode on a free loopback port for the session."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.core.installs import (
    InstallError,
    cache_root,
    check_prerequisites,
    locked_install_dir,
    quiet_npm_env,
    read_stripped,
    run_logged,
)
from hub.core.processes import die_with_parent_hook, free_port, port_in_use, send_signal

PACKAGE = "@modelcontextprotocol/server-everything"
VERSION = "2026.8.31"


def ensure_everything(version: str = VERSION) -> Path:
    """Install the package once into <cache>/mcp-everything/<version>; return its entry."""
    install_dir = cache_root() / "mcp-everything" / version
    entry = install_dir / "node_modules" / PACKAGE / "dist" / "index.js"
    marker = install_dir / ".install-ok"
    stamp = f"server-everything={version}"
    if read_stripped(marker) == stamp and entry.exists():
        return entry
    with locked_install_dir(install_dir):
        if read_stripped(marker) == stamp and entry.exists():
            return entry
        check_prerequisites(("npm", "node"), installing=PACKAGE, why="it runs on Node.")
        want = {"name": "mcp-everything", "private": True, "dependencies": {PACKAGE: version}}
        (install_dir / "package.json").write_text(json.dumps(want) + "\n")
        run_logged(
            [
                shutil.which("npm") or "npm",
                "install",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ],
            cwd=install_dir,
            env=quiet_npm_env(),
            log_path=install_dir / "install.log",
            step="npm install server-everything",
        )
        if not entry.exists():
            raise InstallError(f"{entry} is missing after npm install", step="verify")
        marker.write_text(stamp + "\n")
    return entry


@pytest.fixture(scope="session")
def everything() -> Iterator[str]:
    """The everything server's MCP URL; the process (and its children) stop at the end."""
    entry = ensure_everything()
    port = free_port()
    log = entry.parents[3] / f"run-{port}.log"
    env = {**quiet_npm_env(), "PORT": str(port)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [shutil.which("node") or "node", str(entry), "streamableHttp"],
            cwd=entry.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent_hook(True),
        )
    try:
        deadline = time.monotonic() + 60
        while not port_in_use(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server-everything did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        send_signal(proc.pid, signal.SIGTERM, group=True)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            send_signal(proc.pid, signal.SIGKILL, group=True)
            proc.wait(5)
