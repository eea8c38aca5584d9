"""SIGINT and SIGTERM (what docker, systemd and supervisors send) stop `hub up` and `hub serve`
with every child they started: no n8n, task runner, Prism or authorization server process is
left, no port held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from hub.sandbox.vendors import sandbox_port_count
from tests.cli.test_hub_up import start_up
from tests.live_hub import free_port
from tests.n8n_fixtures import free_port_pair, free_run


def descendants(pid: int) -> list[psutil.Process]:
    """Every process below ``pid`` now (children of children included)."""
    return psutil.Process(pid).children(recursive=True)


def assert_all_gone(procs: list[psutil.Process], timeout: float = 15.0) -> None:
    """Each of ``procs`` exits within ``timeout`` s (a zombie counts as gone)."""
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:
        p.kill()  # never leave them to the next test, but fail
    assert not alive, f"left running: {[(p.pid, p.name()) for p in alive]}"


def assert_ports_free(*ports: int) -> None:
    for port in ports:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        except httpx.TransportError:
            continue
        raise AssertionError(f"port {port} still answers after the stop signal")


@pytest.mark.n8n
def test_hub_up_stops_every_child_on_sigterm(tmp_path):
    """SIGINT is sent by tests/cli/test_hub_up.py, which checks the same with this helper."""
    sig = signal.SIGTERM
    ports = (free_port(), free_port_pair(), free_run(sandbox_port_count()))
    proc, _ = start_up(tmp_path, ports)
    children = descendants(proc.pid)
    names = " ".join(" ".join(p.cmdline()) for p in children)
    assert "n8n" in names and names.count("prism") >= 6, names  # what must be stopped
    assert "authserver.mjs" in names, names  # the demo calendars' OAuth provider
    stop_and_check(proc, sig, ports)


def stop_and_check(proc: subprocess.Popen, sig: int, ports: tuple[int, int, int]) -> None:
    """Send ``sig`` to `hub up`; it exits 0 and leaves no process or port behind."""
    children = descendants(proc.pid)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-2000:]
    assert "stopped" in out
    assert_all_gone(children)
    assert_ports_free(*ports, ports[1] + 1)


def test_hub_serve_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATA_DIR": str(tmp_path), "HUB_LOG_FORMAT": "json"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # imports alone take 10 s+ on a loaded 2-core box
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("hub serve never answered /readyz")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-2000:]
    assert_ports_free(port)
