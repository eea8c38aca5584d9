"""A hub killed with SIGKILL after acknowledging events, before delivering them: a restarted
hub delivers every acknowledged event, once (SECURITY 13; the store is the queue)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.live_hub import free_port
from tests.webhooks.test_delivery import send_sms_event, twilio_hook

pytestmark = pytest.mark.n8n


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_hub(live_hub, port: int, **extra: str) -> subprocess.Popen:
    """`hub serve` on the live hub's database (another replica), with extra HUB_ settings."""
    st = live_hub.runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATABASE_URL": st.resolved_database_url,
            "HUB_MASTER_KEY": st.master_key,
            "HUB_DATA_DIR": str(st.data_dir),
            "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "HUB_SCHEDULER_ENABLED": "false",
            "HUB_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("hub serve did not become ready")


def test_killed_after_ack_delivered_after_restart(live_hub):
    hub = live_hub
    t = hub.tenant("wh-kill")
    url, token = twilio_hook(hub, t)
    # The in-process live hub is another replica on this database: it stays out of the way.
    bystander = hub.server.config.app.state.webhooks.deliverer
    bystander.paused = True
    port = free_port()
    # The subprocess sees n8n down (a closed port), so acknowledged events wait in its store.
    proc = start_hub(hub, port, HUB_N8N_URL=f"http://127.0.0.1:{closed_port()}")
    try:
        path = url.split("/", 3)[3]
        own = f"http://127.0.0.1:{port}/{path}"
        acked = []
        for i in range(5):
            r = send_sms_event(hub, own, token, body_text=f"message {i}")
            assert r.status_code == 200, r.text
            acked.append(r.json()["event_id"])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stored = httpx.get(
            f"{hub.url}/api/events", params={"provider": "twilio"}, headers=t.h("admin")
        ).json()["data"]
        assert sorted(e["id"] for e in stored) == sorted(acked)
        assert all(e["status"] in ("received", "delivering") for e in stored)

        proc = start_hub(hub, port)  # n8n reachable now
        deadline = time.monotonic() + 90  # generous: a busy 2-core runner
        while True:
            stored = httpx.get(
                f"{hub.url}/api/events", params={"provider": "twilio"}, headers=t.h("admin")
            ).json()["data"]
            if all(e["status"] == "delivered" for e in stored):
                break
            assert time.monotonic() < deadline, stored
            time.sleep(0.2)
        assert len(stored) == 5
        assert all(e["result"]["event_id"] == e["id"] for e in stored)
        assert all(e["attempts"] <= 2 for e in stored)
    finally:
        bystander.paused = False
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
