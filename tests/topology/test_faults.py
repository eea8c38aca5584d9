"""Faults in the production topology (`scripts/stack`), each with nothing lost and nothing
doubled: what the sandbox's Twilio received is counted against what every caller was told.

One stack serves the module (tests/topology/conftest.py); each test puts back what it broke.
The webhook-liveness tests are here too, so that a shuffled suite starts the stack once:
a live binding whose webhook stopped answering is redeployed by the scheduler; one that
cannot be redeployed raises an alert (an ERROR log line and an audit row for every tenant
using it), once per outage.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import text

from hub.n8n.deploy import deploy_all
from hub.n8n.deployments import client_for
from hub.scheduler.jobs import LOCK_KEY
from tests.topology.conftest import (
    RUN_TIMEOUT_S,
    SCHEDULER_INTERVAL_S,
    Result,
    Topology,
    check_ledger,
    pids_of,
)

pytestmark = [pytest.mark.n8n, pytest.mark.postgres]


def leadership_events(topo: Topology, hub: str) -> int:
    """How many times replica ``hub`` logged taking the scheduler's leadership."""
    log = Path(topo.stack.daemons[hub].log)
    n = 0
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and json.loads(line).get("msg") == "scheduler leadership taken":
            n += 1
    return n


def current_leader(topo: Topology, timeout: float = 20) -> str:
    """The replica holding the scheduler's advisory lock, found from PostgreSQL's side: the
    lock's backend, its client port, and the hub process owning that socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with topo.rt.db.engine.connect() as c:
            ports = (
                c.execute(
                    text(
                        "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                        "WHERE l.locktype = 'advisory' AND l.objid = :k AND l.granted"
                    ),
                    {"k": LOCK_KEY},
                )
                .scalars()
                .all()
            )
        for name in ("hub-1", "hub-2"):
            p = topo.stack.daemons[name].process()
            if p is not None and any(
                conn.laddr and conn.laddr.port in ports for conn in p.net_connections("tcp")
            ):
                return name
        time.sleep(0.5)
    raise AssertionError("no replica holds the scheduler's lock")


def in_background(fn, *args):  # type: ignore[no-untyped-def]
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    t.start()
    return t, out


def test_kill_9_of_a_hub_replica_mid_stream(topo: Topology):
    """Callers of the dead replica see errors or outcome_unknown (never a silent resend), the
    survivor takes the scheduler within one interval and reconciles the dead one's runs."""
    leader = current_leader(topo)
    survivor = "hub-2" if leader == "hub-1" else "hub-1"
    before = leadership_events(topo, survivor)
    t, out = in_background(topo.stream, "hubkill", 8.0)
    time.sleep(2.5)
    killed_at = time.monotonic()
    topo.stack.kill(leader)
    while leadership_events(topo, survivor) == before:
        assert time.monotonic() - killed_at < 30, "leadership never moved"
        time.sleep(0.1)
    moved_s = time.monotonic() - killed_at
    t.join(120)
    results: list[Result] = out[0]
    counts = check_ledger(results, topo.received())
    print(f"hub kill: {dict(counts)}; leadership moved in {moved_s:.2f} s")
    # One interval, plus the poll granularity of this loop and PostgreSQL noticing the
    # killed backend's socket close.
    assert moved_s <= SCHEDULER_INTERVAL_S + 1.5
    assert counts["succeeded"] > 0

    # Runs the dead replica left in flight become outcome_unknown (never resent) once the
    # run timeout has passed: the survivor's reconcile job does it.
    markers = {r.marker for r in results}
    deadline = time.monotonic() + RUN_TIMEOUT_S + 5 + 4 * SCHEDULER_INTERVAL_S + 10
    while True:
        runs = {k: s for k, s in topo.runs().items() if k in markers}
        open_ = {k: s for k, s in runs.items() if s in ("pending", "sent")}
        if not open_:
            break
        assert time.monotonic() < deadline, f"never reconciled: {open_}"
        time.sleep(1)
    told = {r.marker: r.kind for r in results}
    for key, status in runs.items():
        if status == "outcome_unknown":
            assert told[key] != "succeeded"
    # New calls go through the survivor.
    ok = [topo.call(topo.marker("after")) for _ in range(4)]
    assert all(r.kind == "succeeded" and r.replica == survivor for r in ok), ok
    topo.stack.start_one(leader)


def test_kill_9_of_an_n8n_worker_mid_stream(topo: Topology):
    """A worker killed with executions in flight: the other worker goes on; an execution n8n
    re-runs cannot redeem its single-use grant again, so no message is sent twice."""
    t, out = in_background(topo.stream, "wkill", 8.0)
    time.sleep(2.5)
    topo.stack.kill("n8n-worker-1")
    t.join(120)
    counts = check_ledger(out[0], topo.received())
    print(f"worker kill: {dict(counts)}")
    topo.wait_ok("after-worker", timeout=60)
    time.sleep(RUN_TIMEOUT_S)  # anything n8n re-queues has had its chance to run again
    check_ledger(out[0], topo.received())
    topo.stack.start_one("n8n-worker-1", wait=False)


def test_redis_restarted(topo: Topology):
    """Redis goes away for a few seconds: n8n rides it out, calls recover, none doubled."""
    n8n_pids = {n: p for n, p in pids_of(topo).items() if n.startswith("n8n")}
    t, out = in_background(topo.stream, "redis", 9.0)
    time.sleep(2)
    topo.stack.kill("redis")
    time.sleep(2)
    topo.stack.start_one("redis")
    t.join(120)
    took = topo.wait_ok("after-redis", timeout=90)
    counts = check_ledger(out[0], topo.received())
    print(f"redis restart: {dict(counts)}; first success {took:.1f} s after")
    assert {n: p for n, p in pids_of(topo).items() if n.startswith("n8n")} == n8n_pids


def test_postgres_restarted(topo: Topology):
    """PostgreSQL down: a clear 503 database_unavailable at once; back: the same hub
    processes serve again (no restart)."""
    hubs = {n: p for n, p in pids_of(topo).items() if n.startswith("hub-")}
    topo.stack.kill("postgres", signal.SIGINT)  # fast shutdown, as a restart does
    for via in (topo.stack.url, topo.stack.hub_url(1), topo.stack.hub_url(2)):
        t0 = time.monotonic()
        r = httpx.post(
            f"{via}/api/tools/send_sms/call",
            json={"args": {"to": "+15551234567", "body": "db down"}},
            headers=topo.tenant.h("agent"),
            timeout=30,
        )
        assert r.status_code == 503, r.text
        assert r.json()["error"]["kind"] == "database_unavailable", r.text
        assert "retry" in r.json()["error"]["message"]
        assert time.monotonic() - t0 < 10
    topo.stack.start_one("postgres")
    took = topo.wait_ok("after-pg", timeout=120)
    print(f"postgres restart: first success {took:.1f} s after it was back")
    assert {n: p for n, p in pids_of(topo).items() if n.startswith("hub-")} == hubs


def test_n8n_main_down(topo: Topology):
    """n8n's main process gone: every call answers n8n_unavailable fast and nothing is sent."""
    alerts_before = len(alert_lines(topo))
    topo.stack.kill("n8n")
    results = []
    for _ in range(3):
        t0 = time.monotonic()
        r = topo.call(topo.marker("n8ndown"))
        results.append(r)
        assert r.kind == "n8n_unavailable" and r.status == 503, r
        assert time.monotonic() - t0 < 3  # refused at once, not a timeout
    received = topo.received()
    assert not any(received[r.marker] for r in results)
    topo.stack.start_one("n8n")
    topo.wait_ok("after-n8n", timeout=120)
    # retried with the same idempotency key, each goes out exactly once
    again = [topo.call(r.marker) for r in results]
    assert all(r.kind == "succeeded" for r in again), again
    assert all(topo.received()[r.marker] == 1 for r in again)
    # While the restarted main registers its webhooks some answer 404: not an outage to page on.
    time.sleep(3 * SCHEDULER_INTERVAL_S)
    assert alert_lines(topo)[alerts_before:] == []


def test_mcp_client_on_alternating_replicas(topo: Topology):
    """The SDK's client through the load balancer: consecutive requests land on alternating
    replicas, and listing and calling tools works (the MCP endpoint is stateless)."""
    for i in (1, 2):  # both replicas up (a test before may have restarted one)
        topo.wait_ok("mcp-warm", via=topo.stack.hub_url(i), timeout=60)
    topo.wait_balanced()
    seen: list[str | None] = []

    async def record(response: httpx2.Response) -> None:
        seen.append(response.headers.get("x-hub-replica"))

    async def body() -> None:
        async with (
            httpx2.AsyncClient(
                headers=topo.tenant.h("agent"), timeout=60, event_hooks={"response": [record]}
            ) as hc,
            Client(streamable_http_client(topo.stack.url + "/mcp", http_client=hc)) as c,
        ):
            names = {t.name for t in (await c.list_tools()).tools}
            assert "send_sms" in names
            for i in range(4):
                marker = topo.marker(f"mcp{i}")
                r = await c.call_tool("send_sms", {"to": "+15551234567", "body": marker})
                assert not r.is_error, r.content
                assert r.structured_content["status"] == "succeeded"

    anyio.run(body)
    replicas = [s for s in seen if s]
    assert set(replicas) == {"hub-1", "hub-2"}, seen
    assert any(a != b for a, b in itertools.pairwise(replicas)), seen


# ---------------------------------------------------------------- webhook liveness


def live_send_sms(topo: Topology) -> tuple[str, str]:
    """(n8n id, webhook path) of twilio/send_sms's live version."""
    with topo.rt.db.engine.connect() as c:
        row = c.execute(
            text(
                "SELECT d.n8n_id, d.webhook_path FROM workflow_deployments d "
                "JOIN tool_providers b ON b.workflow = d.integration || '/' || d.tool "
                "AND b.live_version = d.version "
                "WHERE d.integration = 'twilio' AND d.tool = 'send_sms'"
            )
        ).one()
    return str(row[0]), str(row[1])


def answers(topo: Topology, path: str) -> int:
    """What n8n answers a POST without the hub's header credential (404: not registered)."""
    return httpx.post(f"{topo.stack.n8n_url}/webhook/{path}", json={}, timeout=10).status_code


def audit_actions(topo: Topology) -> list[tuple[str, bool]]:
    with topo.rt.db.engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT action, success FROM audit_log WHERE tenant_id = :t "
                "AND action LIKE 'workflow.webhook%' ORDER BY created_at"
            ),
            {"t": topo.tenant.id},
        ).all()
    return [(str(a), bool(s)) for a, s in rows]


def wait_for(cond, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, f"{what} did not happen in {timeout} s"
        time.sleep(0.25)
    return time.monotonic() - t0


def alert_lines(topo: Topology) -> list[dict]:
    out = []
    for name in ("hub-1", "hub-2"):
        for line in Path(topo.stack.daemons[name].log).read_text(errors="replace").splitlines():
            if line.startswith("{") and json.loads(line).get("msg") == "webhook alert":
                out.append(json.loads(line))
    return out


def test_a_dropped_webhook_registration_heals(topo: Topology):
    n8n_id, path = live_send_sms(topo)
    before = audit_actions(topo)
    assert answers(topo, path) in (401, 403)  # registered: refused without the credential
    with client_for(topo.rt) as client:
        client.deactivate(n8n_id)  # what an editor click, or n8n losing it, leaves behind
    assert answers(topo, path) == 404
    healed = wait_for(lambda: answers(topo, path) != 404, 10 * SCHEDULER_INTERVAL_S, "healing")
    print(f"webhook answered again {healed:.1f} s after it was dropped")
    # The job audits after its whole sweep, so the row can trail the webhook answering again.
    wait_for(
        lambda: ("workflow.webhook_redeployed", True) in audit_actions(topo)[len(before) :],
        3 * SCHEDULER_INTERVAL_S,
        "the redeploy's audit row",
    )
    new = audit_actions(topo)[len(before) :]
    assert ("workflow.webhook_dead", False) not in new  # healed, so no alert
    topo.wait_ok("after-heal", timeout=30)


def test_a_webhook_that_cannot_be_redeployed_raises_an_alert(topo: Topology):
    n8n_id, path = live_send_sms(topo)
    dead_before = [a for a, _ in audit_actions(topo)].count("workflow.webhook_dead")
    alerts_before = len(alert_lines(topo))
    with client_for(topo.rt) as client:
        client.deactivate(n8n_id)
        client.delete_workflow(n8n_id)  # gone from n8n: publishing it again must fail
    try:
        wait_for(
            lambda: (
                [a for a, _ in audit_actions(topo)].count("workflow.webhook_dead") > dead_before
            ),
            10 * SCHEDULER_INTERVAL_S,
            "the alert",
        )
        alerts = alert_lines(topo)[alerts_before:]
        assert [a["workflow"] for a in alerts] == ["twilio/send_sms v1"]
        assert alerts and alerts[0]["level"] == "error" and "redeploy failed" in alerts[0]["detail"]
        time.sleep(3 * SCHEDULER_INTERVAL_S)  # once per outage, not once per check
        assert [a for a, _ in audit_actions(topo)].count("workflow.webhook_dead") == dead_before + 1
        assert len(alert_lines(topo)) == alerts_before + 1
    finally:
        results = deploy_all(topo.rt, only="twilio/send_sms")  # what an operator then runs
        assert all(r.ok for r in results), results
    assert answers(topo, path) in (401, 403)
    topo.wait_ok("after-redeploy", timeout=30)
