"""Scheduled refresh of remote MCP servers (the scheduler's job): due servers are listed
again, changes are pinned, failures back off and move health; a server that announces a
list change mid-call is refreshed sooner; the 2026 caching hint shortens the interval."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from hub.app import create_app
from hub.db.base import utcnow
from hub.federation import service
from hub.federation.models import McpServer, McpTool
from hub.runtime import Runtime
from hub.scheduler.jobs import JOBS, job_refresh_mcp_servers
from tests.conftest import create_tenant_kit
from tests.federation.servers import Remote, _app_of, serve
from tests.federation.test_federation import approve, register
from tests.live_hub import free_port, serve_in_thread


@pytest.fixture(scope="module")
def hub_url(hub_runtime: Runtime) -> Iterator[str]:
    port = free_port()
    server = serve_in_thread(create_app(runtime=hub_runtime), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    time.sleep(0.3)


def _make_due(rt: Runtime, sid: str) -> None:
    with rt.db.session() as s:
        s.get(McpServer, sid).next_refresh_at = utcnow() - timedelta(seconds=1)


def _server(rt: Runtime, sid: str) -> McpServer:
    with rt.db.session() as s:
        row = s.get(McpServer, sid)
        s.expunge(row)
        return row


def test_the_job_refreshes_due_servers_and_backs_off_while_one_fails(
    hub_url: str, hub_runtime: Runtime
) -> None:
    assert "refresh_mcp_servers" in {name for name, _, _ in JOBS}
    t = create_tenant_kit(hub_runtime, "job")
    rem = Remote()
    rem.seed()
    with serve(_app_of(rem)) as base:
        sid = register(hub_url, t, name="sched", url=base + "/mcp").json()["id"]
        approve(hub_url, t, sid, "echo")
        after = _server(hub_runtime, sid).next_refresh_at
        # Not due: the job leaves it alone (interval 3600 s, jittered by 10%).
        delta = (after - utcnow()).total_seconds()
        assert 3600 * 0.9 - 5 <= delta <= 3600 * 1.1

        _make_due(hub_runtime, sid)
        rem.tools["echo"] = rem.tools["echo"].model_copy(update={"description": "Changed."})
        assert job_refresh_mcp_servers(hub_runtime) >= 1
        with hub_runtime.db.session() as s:
            echo = s.query(McpTool).filter_by(server_id=sid, name="echo").one()
            assert echo.state == "held"
    # Gone: warning, then error, with a growing wait between tries.
    waits = []
    for _ in range(3):
        _make_due(hub_runtime, sid)
        job_refresh_mcp_servers(hub_runtime)
        row = _server(hub_runtime, sid)
        waits.append((row.next_refresh_at - utcnow()).total_seconds())
    assert row.health == "error" and row.failures == 3
    assert 55 <= waits[0] <= 70 and 115 <= waits[1] <= 135 and 235 <= waits[2] <= 270
    audit = httpx.get(f"{hub_url}/api/audit?limit=200", headers=t.h("admin")).json()["data"]
    moves = [e["details"] for e in audit if e["action"] == "mcp_server.health"]
    assert {"from": "connected", "to": "warning", "failures": 1} in moves
    assert {"from": "warning", "to": "error", "failures": 3} in moves


def test_the_servers_caching_hint_shortens_the_interval() -> None:
    now = utcnow()
    row = McpServer(refresh_interval_s=3600)
    at = service._next(row, now, ttl_ms=120_000)
    assert 108 <= (at - now).total_seconds() <= 132
    floor = service._next(row, now, ttl_ms=1_000)  # never sooner than once a minute
    assert (floor - now).total_seconds() >= 54
