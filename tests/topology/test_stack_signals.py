"""`scripts/stack up` interrupted by SIGINT or SIGTERM while starting: everything it had
started is stopped (the private PostgreSQL cluster and Redis here), and it says so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hub.stack.daemons import Daemon


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_up_stops_what_it_started(tmp_path: Path, sig: int):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.stack", "up", "--dir", str(tmp_path), "--private-postgres"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    state = tmp_path / "stack.json"
    started: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # until PostgreSQL and Redis both run
            if state.exists():
                daemons = json.loads(state.read_text()).get("daemons", {})
                if {"postgres", "redis"} <= set(daemons):
                    for d in daemons.values():
                        p = Daemon.from_json(d).process()
                        if p is not None:
                            started += [p, *p.children(recursive=True)]
                    break
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        else:
            raise AssertionError("the stack never got as far as Redis")
        assert started
        pg_data = json.loads(state.read_text())["pg_data"]
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "everything it had started is stopped" in out
    _, alive = psutil.wait_procs(started, timeout=10)
    left = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in left:
        p.kill()
    assert not left, [(p.pid, p.name()) for p in left]
    assert not Path(pg_data).exists()  # the private cluster's files went too
