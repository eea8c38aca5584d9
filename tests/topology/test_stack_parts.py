"""The stack's parts that need no running stack: the HAProxy config it writes is accepted by
`haproxy -c`, a recorded pid is signalled only while it is still the recorded process, and a
port taken between picking and starting is picked again."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from hub.core.settings import repo_path
from hub.stack.daemons import Daemon, spawn
from hub.stack.haproxy import haproxy_config
from hub.stack.stack import Stack


def test_the_native_haproxy_config_is_valid(tmp_path: Path):
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.fail("haproxy is not installed (scripts/test installs it)", pytrace=False)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        haproxy_config(
            18000, {"hub-1": 18001, "hub-2": 18002}, repo_path("deploy") / "haproxy-errors"
        )
    )
    out = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    text = cfg.read_text()
    assert "retry-on conn-failure" in text  # a request a hub received is never resent
    assert "server hub-1 127.0.0.1:18001" in text and "server hub-2 127.0.0.1:18002" in text


def test_a_reused_pid_is_never_signalled(tmp_path: Path):
    d = spawn("sleeper", ["sleep", "60"], env={"PATH": "/usr/bin:/bin"}, log=tmp_path / "s.log")
    try:
        # The same pid with another start time: what a record looks like once the kernel has
        # given the pid to an unrelated process.
        stranger = Daemon("sleeper", d.pid, d.started - 100, d.log)
        assert not stranger.alive()
        stranger.stop(timeout=1)
        stranger.signal(signal.SIGKILL)
        time.sleep(0.2)
        assert psutil.Process(d.pid).is_running() and d.alive()
    finally:
        d.stop(timeout=5)
    assert not d.alive()


def test_a_port_taken_after_it_was_picked_is_picked_again(tmp_path: Path):
    """Ports are picked before n8n's long start; another process may take one meanwhile."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/test installs it)", pytrace=False)
    stack = Stack(dir=tmp_path, hubs=1, workers=1)
    stack._allocate()
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", stack.ports["redis"]))
    squatter.listen()
    taken = stack.ports["redis"]
    try:
        stack._start_redis()
        assert stack.ports["redis"] != taken
        assert Stack.load(tmp_path).ports["redis"] == stack.ports["redis"]  # recorded
        with socket.create_connection(("127.0.0.1", stack.ports["redis"]), timeout=5) as c:
            c.sendall(b"PING\r\n")
            assert c.recv(16) == b"+PONG\r\n"  # redis itself, on the new port
    finally:
        squatter.close()
        stack.down()
    assert not any(d.alive() for d in stack.daemons.values())
