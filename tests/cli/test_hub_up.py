"""`hub up` as a user runs it: one command starts n8n, the sandbox and the hub, prints a token
that works, and Ctrl-C stops everything; a second run reuses what the first made."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from tests.live_hub import free_port
from tests.n8n_fixtures import free_port_pair


def start_up(data_dir, ports: tuple[int, int, int]) -> tuple[subprocess.Popen, str]:
    """Run `hub up` and return the process and everything it printed until ready."""
    hub_port, n8n_port, sandbox_port = ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATA_DIR": str(data_dir), "COLUMNS": "200"})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub",
            "up",
            "--port",
            str(hub_port),
            "--n8n-port",
            str(n8n_port),
            "--sandbox-port",
            str(sandbox_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if line.strip() == "}" and any("MCP client config" in x for x in out):
            wait_ready(hub_port)  # the panel is printed just before the server binds
            return proc, "".join(out)
    proc.kill()
    raise AssertionError("hub up never became ready:\n" + "".join(out))


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the hub printed its panel but never answered /readyz")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)


def test_hub_up_runs_everything_and_stops_cleanly(tmp_path):
    ports = (free_port(), free_port_pair(), free_port())
    proc, out = start_up(tmp_path, ports)
    try:
        agent = re.search(r"agent token\s+(hub_agent_\S+)", out).group(1)
        assert f"http://127.0.0.1:{ports[0]}/mcp" in out and "sign in as owner@demo.local" in out
        r = httpx.post(
            f"http://127.0.0.1:{ports[0]}/api/tools/send_sms/call",
            headers={"Authorization": f"Bearer {agent}"},
            timeout=60,
            json={"args": {"to": "+15551234567", "body": "from the tour"}},
        )
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    finally:
        from tests.cli.test_stop_signals import stop_and_check

        stop_and_check(proc, signal.SIGINT, ports)  # no child, no port left after Ctrl-C

    proc, out = start_up(tmp_path, ports)  # second run: reuses the install, key and n8n owner
    try:
        assert "master key generated" not in out
        ready = float(re.search(r"hub ready in ([\d.]+) s", out).group(1))
        print(f"second hub up ready in {ready} s")
        agent = re.search(r"agent token\s+(hub_agent_\S+)", out).group(1)
        r = httpx.get(
            f"http://127.0.0.1:{ports[0]}/api/connections",
            headers={"Authorization": f"Bearer {agent}"},
        )
        assert len(r.json()["data"]) == 7  # the demo connections were kept, not duplicated
        # The sandbox's CalDAV password is new on this run: the demo connection got it.
        window = {"time_min": "2026-03-02T08:00:00Z", "time_max": "2026-03-02T18:00:00Z"}
        r = httpx.post(
            f"http://127.0.0.1:{ports[0]}/api/tools/list_calendar_events/call",
            headers={"Authorization": f"Bearer {agent}"},
            timeout=60,
            json={"args": window},
        )
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    finally:
        stop(proc)
