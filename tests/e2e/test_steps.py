"""Multi-step workflows resume from their last successful step (issue 10, item 6), through
real n8n against the sandbox (Prism with Stripe's invoice operations): send_invoice records
each finished step at the hub's /edge/steps, a resumed run gets them back in its webhook body
and the workflow skips them, so Stripe is not asked again for what it already did."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.test_tools import REASON, Setup, assert_output, request_violations
from tests.helpers import stripe_credentials

pytestmark = pytest.mark.n8n

ARGS = {
    "customer_email": "ann@example.com",
    "customer_name": "Ann Example",
    "currency": "USD",
    "line_items": [
        {"description": "Exterior window cleaning", "unit_amount": 12000},
        {"description": "Gutter clearing", "unit_amount": 3250, "quantity": 2},
    ],
    "due_days": 14,
    "notes": "Thank you for your business.",
    "reference": "JOB-4411",
}
STEPS = ["customer", "invoice", "items", "finalize", "send"]


@pytest.fixture
def sandbox_(live_hub):
    """The live hub's sandbox, with no recordings or faults left from earlier tests."""
    live_hub.sandbox.clear()
    yield live_hub.sandbox
    live_hub.sandbox.clear()


def stripe_calls(sandbox) -> list[tuple[str, str]]:
    """What reached Stripe, as (method, path without the invoice id)."""
    out = []
    for r in sandbox.requests("stripe"):
        parts = r.path.split("/")
        if len(parts) == 5 and parts[2] == "invoices":  # /v1/invoices/<id>/<action>
            parts[3] = "{id}"
        out.append((r.method, "/".join(parts)))
    return out


ALL_CALLS = [
    ("GET", "/v1/customers"),
    ("POST", "/v1/customers"),
    ("POST", "/v1/invoices"),
    ("POST", "/v1/invoiceitems"),
    ("POST", "/v1/invoiceitems"),
    ("POST", "/v1/invoices/{id}/finalize"),
    ("POST", "/v1/invoices/{id}/send"),
]


def run_of(live_hub, tenant, run_id: str, kind: str = "admin") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{live_hub.url}/api/runs/{run_id}", headers=tenant.h(kind))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_run_that_never_paused_records_its_steps_and_answers_the_invoice(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    r = su.call("send_invoice", ARGS, reasoning=REASON)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "send_invoice", data)
    assert data["invoice_id"].startswith("in_") and data["status"] == "open"
    assert data["payment_link"].startswith("https://") and data["currency"] == "USD"
    assert stripe_calls(sandbox_) == ALL_CALLS
    for rec in sandbox_.requests("stripe"):
        assert request_violations(rec) == [], (rec.path, rec.violations)
        assert 200 <= rec.status < 300, (rec.path, rec.status, rec.response_body[:300])
    items = [r for r in sandbox_.requests("stripe") if r.path == "/v1/invoiceitems"]
    assert [i.form["description"] for i in items] == [
        ["Exterior window cleaning"],
        ["Gutter clearing"],
    ]
    assert [i.form["quantity"] for i in items] == [["1"], ["2"]]
    # Each step has its own key at Stripe: a resent step is not redone there either.
    keys = [rec.headers.get("idempotency-key") for rec in sandbox_.requests("stripe")]
    run_id = r.json()["run_id"]
    assert keys == [
        None,
        f"{run_id}:customer",
        f"{run_id}:invoice",
        f"{run_id}:item:0",
        f"{run_id}:item:1",
        f"{run_id}:finalize",
        f"{run_id}:send",
    ]
    run = run_of(live_hub, su.tenant, run_id)
    assert [s["step"] for s in run["steps"]] == STEPS
    assert run["result"] == data  # recording steps does not change the run's result
    by_step = {s["step"]: s["result"] for s in run["steps"]}
    assert by_step["invoice"]["id"] == data["invoice_id"] == by_step["send"]["id"]
    assert by_step["items"]["count"] == 2
    # An agent's view of the run is its result: the steps are the workflow's working data.
    assert "steps" not in run_of(live_hub, su.tenant, run_id, kind="agent")
    secret = su.creds["stripe"]["secret_key"]
    assert secret not in json.dumps(run) and secret not in r.text
    # The run is over: its step grant was closed with it.
    from sqlalchemy import select

    from hub.db.base import utcnow
    from hub.runs.models import StepGrant

    with live_hub.runtime.db.session() as s:
        grants = s.scalars(select(StepGrant).where(StepGrant.run_id == run_id)).all()
        assert len(grants) == 1 and grants[0].expires_at <= utcnow()


def sandbox_invoice_id() -> str:
    """The invoice id the sandbox's Stripe answers with (its spec's example)."""
    from hub.sandbox.vendors import available_vendors

    spec = json.loads(available_vendors()["stripe"].read_text())
    media = spec["paths"]["/v1/invoices"]["post"]["responses"]["200"]["content"]
    return str(media["application/json"]["examples"]["draft"]["value"]["id"])


def test_a_refused_later_step_pauses_and_resumes_once_without_repeating_finished_steps(
    live_hub, sandbox_
):
    su = Setup(live_hub, "stripe")
    conn_id = su.conns["stripe"]["id"]
    # Stripe refuses the key at the last step: the customer, the invoice, its items and its
    # finalizing are done by then.
    sandbox_.fault(
        "stripe", 401, method="POST", path_prefix=f"/v1/invoices/{sandbox_invoice_id()}/send"
    )
    r = su.call("send_invoice", ARGS, reasoning=REASON, idempotency_key="invoice-JOB-4411")
    assert r.status_code == 202, r.text
    kept = r.json()
    assert kept["status"] == "paused" and kept["queue_id"] == kept["run_id"]
    message = kept["error"]["message"]
    assert "customer, invoice, items, finalize" in message and "replays them" in message
    assert stripe_calls(sandbox_) == ALL_CALLS
    assert sandbox_.requests("stripe")[-1].status == 401
    assert su.connection("stripe")["status"] == "error"
    run = run_of(live_hub, su.tenant, kept["queue_id"])
    assert run["status"] == "paused"
    assert [s["step"] for s in run["steps"]] == STEPS[:4]

    # The office fixes the key; its Save & Test passes and the paused call resumes.
    sandbox_.clear()
    new_key = stripe_credentials()
    fixed = httpx.patch(
        f"{live_hub.url}/api/connections/{conn_id}",
        json={"credentials": new_key},
        headers=su.tenant.h("admin"),
        timeout=120,
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["test"]["status"] == "connected", fixed.json()["test"]
    # Stripe saw the test read and the one step left: nothing it had done was asked again.
    assert stripe_calls(sandbox_) == [("GET", "/v1/balance"), ("POST", "/v1/invoices/{id}/send")]
    send = sandbox_.requests("stripe")[-1]
    assert send.status == 200 and request_violations(send) == []
    assert send.headers["authorization"] == f"Bearer {new_key['secret_key']}"
    assert send.headers["idempotency-key"] == "invoice-JOB-4411:send"

    done = run_of(live_hub, su.tenant, kept["queue_id"])
    assert done["status"] == "succeeded", done
    assert_output(live_hub, "send_invoice", done["result"])
    assert done["result"]["invoice_id"] == sandbox_invoice_id()
    assert done["result"]["status"] == "open" and done["result"]["payment_link"]
    assert done["result"]["total_amount"] > 0 and done["result"]["due_date"]
    assert [s["step"] for s in done["steps"]] == STEPS
    # The agent polls its queue id and gets the complete result, without the steps.
    polled = run_of(live_hub, su.tenant, kept["queue_id"], kind="agent")
    assert polled["status"] == "succeeded" and polled["result"] == done["result"]
    assert "steps" not in polled
    # Exactly once: another passing test resumes nothing, and the key replays the result.
    sandbox_.clear()
    again = httpx.post(
        f"{live_hub.url}/api/connections/{conn_id}/test", headers=su.tenant.h("admin"), timeout=60
    )
    assert again.json()["status"] == "connected"
    retry = su.call("send_invoice", ARGS, reasoning=REASON, idempotency_key="invoice-JOB-4411")
    assert retry.status_code == 200 and retry.json()["replayed"] is True
    assert retry.json()["data"] == done["result"]
    assert stripe_calls(sandbox_) == [("GET", "/v1/balance")]


def test_a_call_cut_off_by_an_outage_resumes_from_its_last_step_with_the_same_key(
    live_hub, sandbox_
):
    su = Setup(live_hub, "stripe")
    sandbox_.fault(
        "stripe", 503, method="POST", path_prefix=f"/v1/invoices/{sandbox_invoice_id()}/finalize"
    )
    key = "invoice-JOB-5150"
    r = su.call("send_invoice", ARGS, reasoning=REASON, idempotency_key=key)
    err = r.json()["error"]
    assert err["kind"] == "vendor_unavailable" and err["vendor_status"] == 503, r.text
    assert "finalize step (after the steps customer, invoice, items)" in err["message"]
    assert f"idempotency_key '{key}' to resume from there" in err["message"]
    assert stripe_calls(sandbox_) == ALL_CALLS[:6]
    assert su.connection("stripe")["status"] == "warning"  # an outage, not the key
    sandbox_.clear()
    again = su.call("send_invoice", ARGS, reasoning=REASON, idempotency_key=key)
    assert again.status_code == 200, again.text
    assert again.json()["run_id"] == r.json()["run_id"]
    assert_output(live_hub, "send_invoice", again.json()["data"])
    assert stripe_calls(sandbox_) == [
        ("POST", "/v1/invoices/{id}/finalize"),
        ("POST", "/v1/invoices/{id}/send"),
    ]
    assert [rec.headers["idempotency-key"] for rec in sandbox_.requests("stripe")] == [
        f"{key}:finalize",
        f"{key}:send",
    ]
    # Done: the same key now answers the result and sends nothing.
    sandbox_.clear()
    third = su.call("send_invoice", ARGS, reasoning=REASON, idempotency_key=key)
    assert third.json()["replayed"] is True and sandbox_.requests("stripe") == []


def test_a_keyless_call_cut_off_by_an_outage_is_told_the_key_that_resumes_it(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    sandbox_.fault("stripe", 503, method="POST", path_prefix="/v1/invoiceitems", times=2)
    r = su.call("send_invoice", ARGS, reasoning=REASON)
    err = r.json()["error"]
    run_id = r.json()["run_id"]
    assert err["kind"] == "vendor_unavailable", r.text
    assert f"idempotency_key '{run_id}'" in err["message"], err["message"]
    sandbox_.clear()
    again = su.call("send_invoice", ARGS, reasoning=REASON, idempotency_key=run_id)
    assert again.status_code == 200 and again.json()["run_id"] == run_id, again.text
    # The customer and the draft are not made again; the items go with the keys they had.
    assert stripe_calls(sandbox_) == ALL_CALLS[3:]
    keys = [rec.headers["idempotency-key"] for rec in sandbox_.requests("stripe")]
    assert keys[:2] == [f"{run_id}:item:0", f"{run_id}:item:1"]
