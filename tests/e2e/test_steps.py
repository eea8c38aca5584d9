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
    assert [i.form["description"] for i in items] == [["Exterior window cleaning"], ["Gutter clearing"]]
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
