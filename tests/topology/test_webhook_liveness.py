"""Webhook liveness on the running stack: a live binding whose webhook stopped answering is
redeployed by the scheduler (within a few intervals); one that cannot be redeployed raises an
alert (an ERROR log line and an audit row for every tenant using it)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from hub.n8n.deploy import deploy_all
from hub.n8n.deployments import client_for
from tests.topology.conftest import SCHEDULER_INTERVAL_S, Topology

pytestmark = [pytest.mark.n8n, pytest.mark.postgres]


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
    new = audit_actions(topo)[len(before) :]
    assert ("workflow.webhook_redeployed", True) in new
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
