"""Stripe payment events mark the payment links and charges the hub created as paid."""

from __future__ import annotations

import json
import secrets
import time

from hub.runs.models import Run
from tests.webhooks import kit


def made_by_hub(rt, tenant_id: str, tool: str, result: dict) -> str:
    """A succeeded run as the spine records it after a Stripe tool call."""
    with rt.db.session() as s:
        run = Run(
            tenant_id=tenant_id,
            caller="token:test",
            tool=tool,
            provider="stripe",
            args={},
            args_hash="0" * 64,
            status="succeeded",
            result=result,
        )
        s.add(run)
        s.flush()
        return run.id


def wait_delivered(client, t, event_id: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        ev = client.get(f"/api/events/{event_id}", headers=t.h("admin")).json()
        if ev["status"] == "delivered":
            return ev
        assert time.monotonic() < deadline, ev
        time.sleep(0.05)


def test_checkout_and_payment_intent_mark_runs_paid(client, tenant, other_tenant, hub_runtime):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    session_id = "cs_test_" + secrets.token_hex(8)
    pi = "pi_" + secrets.token_hex(8)
    link_run = made_by_hub(
        hub_runtime, tenant.id, "create_payment_link", {"payment_link_id": session_id, "url": "u"}
    )
    charge_run = made_by_hub(
        hub_runtime, tenant.id, "charge_card", {"payment_id": pi, "status": "processing"}
    )
    # The same object id in another tenant's run is never touched.
    theirs = made_by_hub(
        hub_runtime, other_tenant.id, "charge_card", {"payment_id": pi, "status": "processing"}
    )
    sent = []
    for kind, obj in (
        ("checkout.session.completed", {"id": session_id, "payment_status": "paid"}),
        ("payment_intent.succeeded", {"id": pi}),
    ):
        body = json.dumps(
            {"id": "evt_" + secrets.token_hex(8), "type": kind, "data": {"object": obj}}
        ).encode()
        r = client.post(path, content=body, headers=kit.stripe_headers(body, secret))
        assert r.status_code == 200, r.text
        sent.append(r.json()["event_id"])
    first = wait_delivered(client, tenant, sent[0])
    assert first["result"]["runs_marked"] == [link_run]
    wait_delivered(client, tenant, sent[1])
    link = client.get(f"/api/runs/{link_run}", headers=tenant.h("admin")).json()
    assert link["result"]["paid"] is True and link["result"]["url"] == "u"
    charge = client.get(f"/api/runs/{charge_run}", headers=tenant.h("admin")).json()
    assert charge["result"]["paid"] is True
    assert charge["result"]["payment_event_id"] == sent[1]
    with hub_runtime.db.session() as s:
        assert "paid" not in s.get(Run, theirs).result
    audit = client.get(
        "/api/audit", params={"action": "payment.paid"}, headers=tenant.h("admin")
    ).json()["data"]
    assert sorted(a["run_id"] for a in audit) == sorted([link_run, charge_run])
