"""A hub killed after sending leaves its run to be reconciled as outcome_unknown on restart,
and the call is never silently sent again (SECURITY 22, 30)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from tests.helpers import twilio_credentials
from tests.live_hub import free_port


def start_hub(live_hub, port: int, timeout_s: int) -> subprocess.Popen:
    """A second `hub serve` process on the live hub's database (another replica)."""
    st = live_hub.runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATABASE_URL": st.resolved_database_url,
            "HUB_MASTER_KEY": st.master_key,
            "HUB_DATA_DIR": str(st.data_dir),
            "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "HUB_SCHEDULER_ENABLED": "false",
            "HUB_RUN_TIMEOUT_S": str(timeout_s),
            "HUB_LOG_LEVEL": "WARNING",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("hub serve did not become ready")


def test_killed_hub_leaves_outcome_unknown_and_never_resends(live_hub, backend):
    hub, sandbox = live_hub, live_hub.sandbox
    t = hub.tenant("kill")
    hub.connect(t, "twilio", twilio_credentials())
    sandbox.clear()
    port = free_port()
    proc = start_hub(hub, port, timeout_s=20)
    try:
        _kill_and_restart(hub, sandbox, t, port, proc, backend)
    finally:
        if proc.poll() is None:
            proc.kill()


def _kill_and_restart(hub, sandbox, t, port, proc, backend) -> None:  # type: ignore[no-untyped-def]
    # The vendor answers slowly, so the hub is mid-call when it dies.
    sandbox.fault("twilio", 0, delay_s=4)
    args = {"to": "+15551234567", "body": "sent once"}
    answers: list = []

    def call() -> None:
        try:
            answers.append(
                httpx.post(
                    f"http://127.0.0.1:{port}/api/tools/send_sms/call",
                    json={"args": args, "idempotency_key": "kill-1"},
                    headers=t.h("agent"),
                    timeout=30,
                )
            )
        except httpx.TransportError as exc:
            answers.append(exc)

    th = threading.Thread(target=call)
    th.start()
    time.sleep(2)  # the run is written and the webhook sent; the vendor is still answering
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    th.join(30)
    assert isinstance(answers[0], httpx.TransportError), answers[0].text  # never answered
    runs = httpx.get(f"{hub.url}/api/runs?tool=send_sms", headers=t.h("admin")).json()["data"]
    assert [r["status"] for r in runs] == ["sent"]
    time.sleep(3)  # the vendor finished: the message really went out once
    assert len(sandbox.requests("twilio")) == 1

    if backend == "postgres":
        time.sleep(6)  # with shared PostgreSQL only runs older than the timeout are touched
    proc = start_hub(hub, port, timeout_s=1)  # restart: reconciliation runs at start
    try:
        run = httpx.get(f"{hub.url}/api/runs/{runs[0]['id']}", headers=t.h("admin")).json()
        assert run["status"] == "outcome_unknown", run
        assert "not resent" in run["error_message"]
        again = httpx.post(
            f"http://127.0.0.1:{port}/api/tools/send_sms/call",
            json={"args": args, "idempotency_key": "kill-1"},
            headers=t.h("agent"),
            timeout=30,
        )
        assert again.json()["status"] == "outcome_unknown" and again.json()["replayed"] is True
        assert len(sandbox.requests("twilio")) == 1  # never silently sent twice
    finally:
        proc.terminate()
        proc.wait(10)
