"""Every request is bounded before the app runs: body size, slow clients, NUL bytes,
clients that go away; refusals in the hub's JSON shape (hub.core.guard, hub.core.server).

These speak raw HTTP over a socket to a real server (the hub's own uvicorn config), with
timeouts of 1 s so that slow clients are cut off quickly.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from hub.app import create_app
from hub.runtime import Runtime
from tests.conftest import TenantKit
from tests.live_hub import free_port, serve_in_thread


@pytest.fixture(scope="module")
def served(hub_runtime: Runtime) -> Iterator[str]:
    """The hub on a real port, with 1 s header and body timeouts and a 64 KiB API limit."""
    settings = hub_runtime.settings.model_copy(
        update={"header_timeout_s": 1.0, "body_timeout_s": 1.0, "max_body_bytes": 64 * 1024}
    )
    port = free_port()
    server = serve_in_thread(create_app(settings, runtime=hub_runtime), port)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    time.sleep(0.3)


def connect(addr: str) -> socket.socket:
    host, port = addr.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """Read until the server closes or sends a whole JSON response; (status, body)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            None,
        )
        if length is not None and len(body) >= length:
            break
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, json.loads(body) if body else {}


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(served, tenant: TenantKit):
    sock = connect(served)
    sock.sendall(
        b"POST /api/tools/send_sms/call HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {tenant.agent}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 20000000\r\n\r\n"
    )
    t = time.monotonic()
    status, body = read_response(sock)  # nothing of the 20 MB was sent
    assert status == 413 and body["error"]["kind"] == "too_large"
    assert "65536 bytes" in body["error"]["message"] and time.monotonic() - t < 5


def test_a_chunked_body_over_the_limit_is_cut_off(served, tenant: TenantKit):
    sock = connect(served)
    sock.sendall(
        b"POST /api/tools/send_sms/call HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {tenant.agent}\r\n".encode()
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 16384
    sent = 0
    try:
        while sent < 10 * 1024 * 1024:  # stops long before this when the hub answers
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, body = read_response(sock)
    assert status == 413 and body["error"]["kind"] == "too_large"
    assert sent < 10 * 1024 * 1024


def test_a_body_shorter_than_its_length_times_out(served, tenant: TenantKit):
    sock = connect(served)
    sock.sendall(
        b"POST /api/tokens HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {tenant.admin}\r\n".encode()
        + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"kind": '
    )
    t = time.monotonic()
    status, body = read_response(sock)
    assert status == 408 and body["error"]["kind"] == "timeout"
    assert 0.9 < time.monotonic() - t < 5


def test_trickled_headers_are_cut_off(served):
    sock = connect(served)
    sock.sendall(b"GET /api/me HTTP/1.1\r\nHost: x\r\n")
    t = time.monotonic()
    status = 0
    try:
        for ch in b"X-Slow: " + b"a" * 40:
            sock.sendall(bytes([ch]))
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, body = read_response(sock)
    assert status == 408 and body["error"]["kind"] == "timeout"
    assert time.monotonic() - t < 4.5


def test_a_silent_connection_is_closed(served):
    sock = connect(served)
    t = time.monotonic()
    status, body = read_response(sock)
    assert status == 408 and body["error"]["kind"] == "timeout"
    assert 0.9 < time.monotonic() - t < 5


def test_a_client_that_leaves_mid_body_is_logged_as_such_not_as_a_500(
    served, tenant: TenantKit, caplog
):
    caplog.set_level(logging.INFO)
    sock = connect(served)
    sock.sendall(
        b"POST /api/tokens HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {tenant.admin}\r\n".encode()
        + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"kind": '
    )
    time.sleep(0.2)
    sock.close()
    time.sleep(0.5)
    records = [r for r in caplog.records if r.name in ("hub.http", "hub.errors")]
    assert any(r.getMessage() == "client disconnected" for r in records)
    assert not [r for r in records if getattr(r, "status", None) == 500 or r.levelno >= 40]


def test_the_limits_leave_ordinary_requests_alone(served, tenant: TenantKit):
    r = httpx.post(
        f"http://{served}/api/tokens",
        json={"kind": "agent", "name": "ordinary"},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 201, r.text
    assert httpx.get(f"http://{served}/healthz").status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/tokens", '{"kind": "agent", "name": "a\\u0000b"}'),
        ("/api/tools/send_sms/call", '{"args": {"to": "+15551234567", "body": "\\u0000"}}'),
        ("/api/connections", '{"integration": "twilio", "account_label": "\\u0000"}'),
    ],
)
def test_nul_in_a_body_is_refused_on_every_database(client, tenant: TenantKit, path, body):
    r = client.post(
        path, content=body, headers={**tenant.h("admin"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["kind"] == "invalid_request", r.text
    assert "NUL" in r.json()["error"]["message"]


def test_nul_in_a_query_string_is_refused(client, tenant: TenantKit):
    r = client.get("/api/runs?tool=send%00sms", headers=tenant.h("admin"))
    assert r.status_code == 422 and "NUL" in r.json()["error"]["message"]


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client, tenant: TenantKit):
    body = '{"kind": "agent", "name": "a\\\\u0000b"}'  # the text backslash-u0000, no NUL
    r = client.post(
        "/api/tokens",
        content=body,
        headers={**tenant.h("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 201 and r.json()["name"] == "a\\u0000b"
