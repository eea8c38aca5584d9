"""The sandbox's CalDAV server (Radicale): reachable through the proxy with the test user's
password only, its calendar there from the start, and gone with the sandbox."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from hub.core.processes import port_in_use
from hub.sandbox.caldav import CalDavServer

EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20260310T150000Z\r\nDTEND:20260310T160000Z\r\n"
    "SUMMARY:Gutter check\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_caldav_through_the_proxy_needs_the_password_and_is_recorded(sandbox):
    cal = sandbox.caldav_server()
    assert re.fullmatch(r"[a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{4}", cal.password)
    home = sandbox.base_url("apple_calendar") + "/owner%40icloud.example/home/"
    sandbox.clear()
    put = httpx.put(
        home + "sbx-1.ics",
        content=EVENT.format(uid="sbx-1"),
        headers={"content-type": "text/calendar"},
        auth=(cal.user, cal.password),
    )
    assert put.status_code in (201, 204), put.text
    got = httpx.get(home, auth=(cal.user, cal.password))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/calendar")
    assert "UID:sbx-1" in got.text and "SUMMARY:Gutter check" in got.text
    refused = httpx.get(home, auth=(cal.user, "abcd-abcd-abcd-abcd"))
    assert refused.status_code == 401 and "basic" in refused.headers["www-authenticate"].lower()
    recs = sandbox.requests("apple_calendar")
    assert [(r.method, r.status) for r in recs] == [
        ("PUT", put.status_code),
        ("GET", 200),
        ("GET", 401),
    ]
    sandbox.fault("apple_calendar", 503)
    assert httpx.get(home, auth=(cal.user, cal.password)).status_code == 503
    sandbox.clear()


def test_the_server_stops_and_takes_its_storage(tmp_path):
    cal = CalDavServer(log_path=tmp_path / "radicale.log").start()
    proc, folder = cal._proc, cal._dir
    assert proc is not None and folder is not None and (folder / "storage").is_dir()
    # the calendar collection exists before any client made it (as an iCloud calendar does)
    r = httpx.request(
        "PROPFIND",
        f"{cal.url}{cal.calendar_path}",
        headers={"Depth": "0"},
        auth=(cal.user, cal.password),
    )
    assert r.status_code == 207 and "calendar" in r.text, r.text
    cal.stop()
    assert proc.poll() is not None and not folder.exists()
    assert not port_in_use(cal.port)
    cal.stop()  # idempotent


def test_sigterm_to_the_sandbox_command_stops_radicale_too():
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.sandbox", "--base-port", "0", "--vendor", "apple_calendar"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        seen, port = [], None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
            m = re.search(r"apple_calendar .*\(http://127\.0\.0\.1:(\d+)\)", line)
            port = int(m.group(1)) if m else None
        assert port is not None and port_in_use(port), "".join(seen)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while port_in_use(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not port_in_use(port), "radicale outlived the sandbox command"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_a_taken_port_is_refused_with_radicales_reason(tmp_path):
    """A port the caller named and something else holds: a clear error, nothing left running
    (a port the server picks itself is picked again instead)."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        server = CalDavServer(port=port, log_path=tmp_path / "radicale.log")
        try:
            server.start()
        except Exception as exc:  # the message is what is checked
            assert f"could not bind port {port}" in str(exc)
            assert "Address already in use" in str(exc)
        else:
            server.stop()
            raise AssertionError("radicale started on a port another socket holds")
        assert server._proc is None and server._dir is None
    picked = CalDavServer(log_path=tmp_path / "picked.log").start()
    try:
        assert picked.port and port_in_use(picked.port)
    finally:
        picked.stop()
