"""`hub up` as a user runs it: one command starts n8n, the sandbox, its OAuth authorization
server and the hub, connects the demo's calendars through the real OAuth flow, prints a token
that works (an agent books on the demo's Google Calendar over MCP), and Ctrl-C stops
everything; a second run reuses what the first made (the calendars' tokens included), and a
run whose tokens died connects the calendars again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

import anyio
import httpx

from hub.sandbox.vendors import sandbox_port_count
from tests.e2e.test_calendars import EVENT
from tests.live_hub import free_port
from tests.mcp.test_mcp import mcp_http
from tests.n8n_fixtures import free_port_pair, free_run


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


def book_over_mcp(hub_url: str, agent: str) -> dict[str, Any]:
    """An agent creates a calendar event over MCP (the SDK's client, streamable HTTP)."""

    async def go() -> dict[str, Any]:
        async with mcp_http(SimpleNamespace(url=hub_url), agent) as c:
            res = await c.call_tool("create_calendar_event", EVENT)
            assert not res.is_error, res.content
            return dict(res.structured_content)

    return anyio.run(go)


def booked_on_google(hub_url: str, out: str, admin: str) -> None:
    """The agent's booking succeeded, and it went to the demo's Google Calendar."""
    agent = re.search(r"agent token\s+(hub_agent_\S+)", out).group(1)
    got = book_over_mcp(hub_url, agent)
    assert got["status"] == "succeeded", got
    assert got["data"]["event_id"] and got["data"]["start"], got
    run = httpx.get(
        f"{hub_url}/api/runs/{got['run_id']}", headers={"Authorization": f"Bearer {admin}"}
    ).json()
    assert run["provider"] == "google_calendar" and run["status"] == "succeeded", run


def auth_server_counts(out: str) -> dict[str, int]:
    """What the authorization server `hub up` started has answered since it started."""
    url = re.search(r"OAuth server (http://127\.0\.0\.1:\d+)", out).group(1)
    return dict(httpx.get(f"{url}/__counts", timeout=5).json())


def test_hub_up_runs_everything_and_stops_cleanly(tmp_path):
    ports = (free_port(), free_port_pair(), free_run(sandbox_port_count()))
    hub_url = f"http://127.0.0.1:{ports[0]}"
    proc, out = start_up(tmp_path, ports)
    try:
        agent = re.search(r"agent token\s+(hub_agent_\S+)", out).group(1)
        admin = re.search(r"admin token\s+(hub_admin_\S+)", out).group(1)
        assert f"{hub_url}/mcp" in out and "sign in as owner@demo.local" in out
        r = httpx.post(
            f"{hub_url}/api/tools/send_sms/call",
            headers={"Authorization": f"Bearer {agent}"},
            timeout=60,
            json={"args": {"to": "+15551234567", "body": "from the tour"}},
        )
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        # The calendars went through the flow: consent at the authorization server, the
        # hub's callback, Save & Test.
        assert re.search(
            r"google_calendar \(connected\), outlook_calendar \(connected\): connected by OAuth",
            out,
        ), out
        assert auth_server_counts(out)["authorization_code"] == 2
        conns = httpx.get(
            f"{hub_url}/api/connections", headers={"Authorization": f"Bearer {admin}"}
        ).json()["data"]
        cals = {c["integration"]: c for c in conns if c["integration"].endswith("_calendar")}
        for slug in ("google_calendar", "outlook_calendar"):
            assert cals[slug]["status"] == "connected" and cals[slug]["connected_via"] == "demo"
            assert cals[slug]["account_label"] == "office@demo.example"
        booked_on_google(hub_url, out, admin)
    finally:
        from tests.cli.test_stop_signals import stop_and_check

        stop_and_check(proc, signal.SIGINT, ports)  # no child, no port left after Ctrl-C

    proc, out = start_up(tmp_path, ports)  # second run: reuses the install, key and n8n owner
    try:
        assert "master key generated" not in out
        ready = float(re.search(r"hub ready in ([\d.]+) s", out).group(1))
        print(f"second hub up ready in {ready} s")
        agent = re.search(r"agent token\s+(hub_agent_\S+)", out).group(1)
        admin = re.search(r"admin token\s+(hub_admin_\S+)", out).group(1)
        r = httpx.get(f"{hub_url}/api/connections", headers={"Authorization": f"Bearer {agent}"})
        conns = r.json()["data"]
        assert len(conns) == 9  # the demo connections were kept, not duplicated
        # The calendars' tokens outlived the restart: tested, kept, no new consent.
        assert "google_calendar (kept), outlook_calendar (kept): connected by OAuth" in out, out
        assert auth_server_counts(out)["authorization_code"] == 0
        booked_on_google(hub_url, out, admin)
        # The sandbox's CalDAV password is new on this run: the demo connection got it (Save &
        # Test reads Apple Calendar through n8n with it).
        (apple,) = [c for c in conns if c["integration"] == "apple_calendar"]
        r = httpx.post(
            f"{hub_url}/api/connections/{apple['id']}/test",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=60,
        )
        assert r.status_code == 200 and r.json()["status"] == "connected", r.text
    finally:
        stop(proc)

    # The authorization server forgot every grant (its store is gone): the next run finds the
    # tokens refused and connects the calendars again through the flow.
    (tmp_path / "authserver" / "grants.json").unlink()
    proc, out = start_up(tmp_path, ports)
    try:
        assert re.search(
            r"google_calendar \(connected\), outlook_calendar \(connected\): connected by OAuth",
            out,
        ), out
        assert auth_server_counts(out)["authorization_code"] == 2
        admin = re.search(r"admin token\s+(hub_admin_\S+)", out).group(1)
        booked_on_google(hub_url, out, admin)
    finally:
        stop(proc)
