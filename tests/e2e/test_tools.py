"""Every shipped tool end to end: REST call -> hub -> n8n workflow -> edge grant -> sandbox.

Through ``POST /api/tools/{name}/call`` of a real hub (``live_hub``: uvicorn on a port, the
shipped workflows deployed to the local n8n by ``hub.n8n.deploy.deploy_all``), the vendor
calls land in the sandbox, which validates them against the vendor's own OpenAPI spec
(Prism) and records them. Square refunds are served by a sandbox route written from Square's
documentation (``hub/sandbox/routes.py``): the shared Square spec lacks that operation.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from hub.accounts.models import Tenant
from hub.n8n.instance import get_instance, secret_of
from hub.n8n.invoke import WEBHOOK_AUTH_HEADER
from hub.registry.models import Tool
from tests.helpers import square_credentials, stripe_credentials, twilio_credentials

pytestmark = pytest.mark.n8n

REASON = "Job 4411 done; the customer agreed to this amount on site."


def sendgrid_credentials() -> dict[str, str]:
    return {
        "api_key": "SG." + secrets.token_urlsafe(16)[:22] + "." + secrets.token_urlsafe(33)[:43],
        "from_email": "office@example.com",
        "from_name": "Acme Windows",
    }


def mailgun_credentials() -> dict[str, str]:
    return {
        "api_key": "key-" + secrets.token_hex(16),
        "domain": "mg.example.com",
        "region": "us",
        "from_email": "office@mg.example.com",
    }


def google_credentials() -> dict[str, str]:
    return {"api_key": "AIza" + secrets.token_urlsafe(27)[:35]}


CREDENTIALS = {
    "twilio": twilio_credentials,
    "sendgrid": sendgrid_credentials,
    "mailgun": mailgun_credentials,
    "google_maps": google_credentials,
    "stripe": stripe_credentials,
    "square": square_credentials,
}


class Setup:
    """A tenant with connections; remembers the credentials each one was given."""

    def __init__(self, live_hub: Any, *integrations: str, **base_urls: str):
        self.hub = live_hub
        self.tenant = live_hub.tenant()
        self.creds: dict[str, dict[str, str]] = {}
        self.conns: dict[str, dict[str, Any]] = {}
        for i in integrations:
            self.creds[i] = CREDENTIALS[i]()
            extra = {"base_url": base_urls[i]} if i in base_urls else {}
            self.conns[i] = live_hub.connect(self.tenant, i, self.creds[i], **extra)
            if "base_url" not in extra:  # against the sandbox its Save & Test must pass
                assert self.conns[i]["test"]["status"] == "connected", self.conns[i]["test"]
        # The tests look at what their own calls sent, not at the Save & Test reads.
        live_hub.sandbox.clear()

    def call(self, tool: str, args: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.hub.call(self.tenant, tool, args, **extra)

    def connection(self, integration: str) -> dict[str, Any]:
        cid = self.conns[integration]["id"]
        r = httpx.get(f"{self.hub.url}/api/connections/{cid}", headers=self.tenant.h("admin"))
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, run_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.hub.url}/api/runs/{run_id}", headers=self.tenant.h("admin"))
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def sandbox_(live_hub):
    """The live hub's sandbox, with no recordings or faults left from earlier tests."""
    live_hub.sandbox.clear()
    yield live_hub.sandbox
    live_hub.sandbox.clear()


def request_violations(rec) -> list[dict[str, Any]]:
    """Violations of the request (Prism also reports its own responses breaking the spec)."""
    return [v for v in rec.violations if (v.get("location") or ["request"])[0] != "response"]


def only_request(sandbox, vendor: str):
    recs = sandbox.requests(vendor)
    assert len(recs) == 1, [(r.method, r.path, r.status) for r in recs]
    rec = recs[0]
    assert request_violations(rec) == [], rec.violations
    assert 200 <= rec.status < 300, (rec.status, rec.response_body[:500])
    return rec


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def output_schema(live_hub, tool: str) -> dict[str, Any]:
    with live_hub.runtime.db.session() as s:
        return s.get(Tool, tool).output_schema


def assert_output(live_hub, tool: str, data: dict[str, Any]) -> None:
    problems = [
        e.message for e in Draft202012Validator(output_schema(live_hub, tool)).iter_errors(data)
    ]
    assert problems == [], (data, problems)


# --------------------------------------------------------------------------- success, per tool


def test_send_sms_twilio(live_hub, sandbox_):
    su = Setup(live_hub, "twilio")
    args = {
        "to": "+14155550123",
        "body": "Your window cleaning is tomorrow at 9 & we'll text on arrival.",
        "media_urls": ["https://example.com/a.png", "https://example.com/b.png"],
    }
    r = su.call("send_sms", args)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "succeeded"
    assert out["data"]["message_id"].startswith("SM") and out["data"]["status"] == "queued"
    assert_output(live_hub, "send_sms", out["data"])
    c = su.creds["twilio"]
    rec = only_request(sandbox_, "twilio")
    assert rec.method == "POST"
    assert rec.path == f"/2010-04-01/Accounts/{c['account_sid']}/Messages.json"
    assert rec.headers["authorization"] == basic(c["account_sid"], c["auth_token"])
    assert rec.content_type == "application/x-www-form-urlencoded"
    assert rec.form == {
        "To": [args["to"]],
        "From": [c["default_from"]],
        "Body": [args["body"]],
        "MediaUrl": args["media_urls"],
    }
    assert su.run(out["run_id"])["provider"] == "twilio"


def test_send_sms_uses_the_callers_sender(live_hub, sandbox_):
    su = Setup(live_hub, "twilio")
    r = su.call("send_sms", {"to": "+14155550123", "body": "hi", "from": "+14155550999"})
    assert r.status_code == 200, r.text
    assert only_request(sandbox_, "twilio").form["From"] == ["+14155550999"]


def test_send_email_sendgrid(live_hub, sandbox_):
    su = Setup(live_hub, "sendgrid")
    args = {
        "to": ["ann@example.com", "bob@example.com"],
        "cc": ["carl@example.com"],
        "subject": "Your estimate",
        "text": "Hello, the estimate is attached.",
        "html": "<p>Hello, the estimate is attached.</p>",
        "reply_to": "owner@example.com",
    }
    r = su.call("send_email", args)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "send_email", data)
    assert data["status"] == "accepted" and data["recipients"] == 3
    rec = only_request(sandbox_, "sendgrid")
    assert rec.status == 202 and data["message_id"] == rec.response_headers["x-message-id"]
    assert rec.headers["authorization"] == f"Bearer {su.creds['sendgrid']['api_key']}"
    body = rec.json()
    assert body["personalizations"] == [
        {
            "to": [{"email": "ann@example.com"}, {"email": "bob@example.com"}],
            "cc": [{"email": "carl@example.com"}],
        }
    ]
    assert body["from"] == {"email": "office@example.com", "name": "Acme Windows"}
    assert body["reply_to"] == {"email": "owner@example.com"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


def test_send_email_mailgun(live_hub, sandbox_):
    su = Setup(live_hub, "mailgun")
    args = {
        "to": ["ann@example.com"],
        "subject": "Rappel: facture n° 12",
        "text": "Merci — à bientôt.",
        "from_name": "Acme Windows",
    }
    r = su.call("send_email", args)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "send_email", data)
    assert data == {"message_id": "message-id", "status": "queued", "recipients": 1}
    rec = only_request(sandbox_, "mailgun")
    assert rec.path == "/v3/mg.example.com/messages"
    assert rec.headers["authorization"] == basic("api", su.creds["mailgun"]["api_key"])
    assert rec.content_type == "multipart/form-data"
    form = rec.form
    assert form["from"] == ['"Acme Windows" <office@mg.example.com>']
    assert form["to"] == ["ann@example.com"] and form["subject"] == [args["subject"]]
    assert form["text"] == [args["text"]] and "cc" not in form and "html" not in form
    assert form["v:hub_run_id"] == [r.json()["run_id"]]


def test_geocode_address_google_maps(live_hub, sandbox_):
    su = Setup(live_hub, "google_maps")
    r = su.call("geocode_address", {"address": "456 Oak Street, Madison, WI", "region": "US"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "geocode_address", data)
    best = data["results"][0]
    assert {"formatted_address", "latitude", "longitude", "accuracy", "place_id"} <= set(best)
    rec = only_request(sandbox_, "google_maps")
    assert rec.method == "GET" and rec.path == "/maps/api/geocode/json"
    assert rec.params["address"] == ["456 Oak Street, Madison, WI"]
    assert rec.params["key"] == [su.creds["google_maps"]["api_key"]]
    assert rec.params["region"] == ["us"]


def test_geocode_zero_results_is_an_empty_list(live_hub, sandbox_):
    su = Setup(live_hub, "google_maps")
    sandbox_.fault("google_maps", 200, body={"results": [], "status": "ZERO_RESULTS"})
    r = su.call("geocode_address", {"address": "Nowhere Lane 0"})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"results": []}


def test_geocode_request_denied_is_an_auth_error(live_hub, sandbox_):
    su = Setup(live_hub, "google_maps")
    sandbox_.fault(
        "google_maps",
        200,
        body={"results": [], "status": "REQUEST_DENIED", "error_message": "The key is invalid."},
    )
    r = su.call("geocode_address", {"address": "456 Oak Street"})
    err = r.json()["error"]
    assert err["kind"] == "auth" and "REQUEST_DENIED" in err["message"]
    assert su.connection("google_maps")["status"] == "error"


def test_charge_card_stripe(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    key = f"job-4411-{uuid.uuid4().hex[:8]}"
    args = {
        "amount": 1999,
        "currency": "USD",
        "customer_id": "cus_Q1",
        "payment_method_id": "pm_Q1",
        "description": "Window cleaning",
        "reference": "JOB-4411",
        "receipt_email": "ann@example.com",
    }
    r = su.call("charge_card", args, reasoning=REASON, idempotency_key=key)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "charge_card", data)
    rec = only_request(sandbox_, "stripe")
    assert rec.path == "/v1/payment_intents"
    assert rec.headers["authorization"] == f"Bearer {su.creds['stripe']['secret_key']}"
    assert rec.headers["idempotency-key"] == key
    form = rec.form
    assert form["amount"] == ["1999"] and form["currency"] == ["usd"]
    assert form["customer"] == ["cus_Q1"] and form["payment_method"] == ["pm_Q1"]
    assert form["confirm"] == ["true"] and form["off_session"] == ["true"]
    assert form["metadata[reference]"] == ["JOB-4411"]
    assert form["metadata[hub_run_id]"] == [r.json()["run_id"]]


def test_charge_card_stripe_answers_plausible_sandbox_data(live_hub, sandbox_):
    # the sandbox's Stripe spec carries examples, so a demo charge reads like a real one
    # rather than Prism's "string" placeholders (which the workflow upper-cased to "STRING")
    su = Setup(live_hub, "stripe")
    args = {"amount": 1999, "currency": "USD", "customer_id": "cus_Q1", "payment_method_id": "pm"}
    r = su.call("charge_card", args, reasoning=REASON)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert re.fullmatch(r"pi_[A-Za-z0-9]{20,}", data["payment_id"]), data
    assert data["currency"] == "USD" and data["status"] == "succeeded", data
    assert data["amount"] > 0


def test_charge_card_without_a_key_sends_the_run_id_as_idempotency_key(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    args = {"amount": 500, "currency": "USD", "customer_id": "c", "payment_method_id": "pm"}
    r = su.call("charge_card", args, reasoning=REASON)
    assert r.status_code == 200, r.text
    assert only_request(sandbox_, "stripe").headers["idempotency-key"] == r.json()["run_id"]


def test_refund_payment_stripe(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    charge = su.call(
        "charge_card",
        {"amount": 2500, "currency": "USD", "customer_id": "c", "payment_method_id": "pm"},
        reasoning=REASON,
    )
    payment_id = charge.json()["data"]["payment_id"]
    sandbox_.clear()
    r = su.call(
        "refund_payment",
        {"payment_id": payment_id, "amount": 500, "currency": "USD", "reason": "duplicate"},
        reasoning="Charged twice for job 4411.",
        idempotency_key="refund-4411",
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "refund_payment", data)
    rec = only_request(sandbox_, "stripe")
    assert rec.path == "/v1/refunds" and rec.headers["idempotency-key"] == "refund-4411"
    assert rec.form["payment_intent"] == [payment_id]
    assert rec.form["amount"] == ["500"] and rec.form["reason"] == ["duplicate"]


def test_create_payment_link_stripe(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    args = {
        "amount": 4500,
        "currency": "USD",
        "description": "Gutter cleaning",
        "quantity": 2,
        "customer_email": "ann@example.com",
        "reference": "INV-77",
        "expires_in_hours": 2,
    }
    r = su.call("create_payment_link", args, reasoning="Customer asked to pay online.")
    assert r.status_code == 200, r.text
    assert_output(live_hub, "create_payment_link", r.json()["data"])
    rec = only_request(sandbox_, "stripe")
    assert rec.path == "/v1/checkout/sessions"
    form = rec.form
    assert form["mode"] == ["payment"]
    assert form["line_items[0][price_data][unit_amount]"] == ["4500"]
    assert form["line_items[0][price_data][currency]"] == ["usd"]
    assert form["line_items[0][price_data][product_data][name]"] == ["Gutter cleaning"]
    assert form["line_items[0][quantity]"] == ["2"]
    assert form["customer_email"] == ["ann@example.com"]
    assert form["success_url"][0].startswith(live_hub.url) and form["cancel_url"]
    expires = int(form["expires_at"][0])
    assert rec.at + 3600 < expires <= rec.at + 2 * 3600


def test_charge_card_square(live_hub, sandbox_):
    su = Setup(live_hub, "square")
    key = "k-" + "x" * 60  # longer than Square's 45 characters
    args = {
        "amount": 1999,
        "currency": "USD",
        "customer_id": "CUST1",
        "payment_method_id": "ccof:card-1",
        "description": "Window cleaning",
        "reference": "JOB-4411",
    }
    r = su.call("charge_card", args, reasoning=REASON, idempotency_key=key)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "charge_card", data)
    rec = only_request(sandbox_, "square")
    assert rec.path == "/v2/payments"
    assert rec.headers["authorization"] == f"Bearer {su.creds['square']['access_token']}"
    assert rec.headers["square-version"]
    body = rec.json()
    assert body["source_id"] == "ccof:card-1" and body["customer_id"] == "CUST1"
    assert body["amount_money"] == {"amount": 1999, "currency": "USD"}
    assert body["location_id"] == su.creds["square"]["location_id"]
    assert body["reference_id"] == "JOB-4411" and body["note"] == "Window cleaning"
    # Square takes at most 45 characters: a long key becomes a stable shortened form.
    assert len(body["idempotency_key"]) == 45 and body["idempotency_key"].startswith(key[:28])
    again = su.call(
        "charge_card", {**args, "amount": 1998}, reasoning=REASON, idempotency_key=key[:-1] + "y"
    )
    assert again.status_code == 200, again.text
    second = sandbox_.requests("square")[-1].json()["idempotency_key"]
    assert second != body["idempotency_key"] and second[:28] == body["idempotency_key"][:28]


def test_refund_payment_square(live_hub, sandbox_):
    su = Setup(live_hub, "square")
    charge = su.call(
        "charge_card",
        {"amount": 3000, "currency": "USD", "customer_id": "C", "payment_method_id": "ccof:1"},
        reasoning=REASON,
    )
    payment_id = charge.json()["data"]["payment_id"]
    sandbox_.clear()
    r = su.call(
        "refund_payment",
        {"payment_id": payment_id, "amount": 1000, "currency": "USD", "note": "Partial refund"},
        reasoning="One window was skipped.",
        idempotency_key="sq-refund-1",
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert_output(live_hub, "refund_payment", data)
    assert data["payment_id"] == payment_id and data["status"] == "pending"
    assert data["amount"] == 1000 and data["currency"] == "USD"
    rec = only_request(sandbox_, "square")
    assert rec.path == "/v2/refunds"
    assert rec.json() == {
        "idempotency_key": "sq-refund-1",
        "payment_id": payment_id,
        "amount_money": {"amount": 1000, "currency": "USD"},
        "reason": "Partial refund",
    }


def test_square_refund_without_amount_is_refused_before_any_vendor_call(live_hub, sandbox_):
    su = Setup(live_hub, "square")
    charge = su.call(
        "charge_card",
        {"amount": 3000, "currency": "USD", "customer_id": "C", "payment_method_id": "ccof:1"},
        reasoning=REASON,
    )
    sandbox_.clear()
    r = su.call(
        "refund_payment", {"payment_id": charge.json()["data"]["payment_id"]}, reasoning="Refund."
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["kind"] == "invalid_request" and "amount and currency" in err["message"]
    assert sandbox_.requests("square") == []


# --------------------------------------------------------------------------- vendor errors


def test_a_request_the_vendor_spec_rejects_is_invalid_request(live_hub, sandbox_):
    """ZZZ passes the tool's schema (three capital letters) but is not one of Square's
    currencies: Prism rejects the request and the hub reports invalid_request."""
    su = Setup(live_hub, "square")
    args = {"amount": 100, "currency": "ZZZ", "customer_id": "C", "payment_method_id": "ccof:1"}
    r = su.call("charge_card", args, reasoning=REASON)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["kind"] == "invalid_request" and err["vendor_status"] in (400, 422)
    assert "currency" in err["message"]
    (rec,) = sandbox_.requests("square")
    assert any("currency" in ".".join(map(str, v["location"])) for v in request_violations(rec))
    assert su.connection("square")["status"] == "connected"  # the caller's fault, not the vendor's


def test_a_vendor_400_passes_its_message_on(live_hub, sandbox_):
    su = Setup(live_hub, "twilio")
    sandbox_.fault(
        "twilio",
        400,
        body={
            "code": 21211,
            "message": "The 'To' number +14155550100 is not a valid phone number.",
            "status": 400,
        },
    )
    r = su.call("send_sms", {"to": "+14155550100", "body": "hi"})
    err = r.json()["error"]
    assert r.status_code == 422 and err["kind"] == "invalid_request" and err["vendor_status"] == 400
    assert "not a valid phone number" in err["message"] and "21211" in err["message"]


def test_stripe_card_declined_is_invalid_request_with_the_vendors_message(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    sandbox_.fault("stripe", 402)
    args = {"amount": 700, "currency": "USD", "customer_id": "c", "payment_method_id": "pm"}
    err = su.call("charge_card", args, reasoning=REASON).json()["error"]
    assert err["kind"] == "invalid_request" and err["vendor_status"] == 402
    assert "declined" in err["message"] and "card_declined" in err["message"]


@pytest.mark.parametrize(
    ("integration", "tool", "args"),
    [
        ("twilio", "send_sms", {"to": "+14155550123", "body": "hi"}),
        ("sendgrid", "send_email", {"to": ["a@example.com"], "subject": "s", "text": "t"}),
        ("mailgun", "send_email", {"to": ["a@example.com"], "subject": "s", "text": "t"}),
        ("stripe", "create_payment_link", {"amount": 100, "currency": "USD", "description": "d"}),
        (
            "square",
            "charge_card",
            {"amount": 100, "currency": "USD", "customer_id": "c", "payment_method_id": "p"},
        ),
    ],
)
def test_auth_failure_marks_the_connection_error(live_hub, sandbox_, integration, tool, args):
    su = Setup(live_hub, integration)
    sandbox_.fault(integration, 401)
    r = su.call(tool, args, reasoning=REASON)
    err = r.json()["error"]
    assert err["kind"] == "auth" and err["vendor_status"] == 401, r.text
    conn = su.connection(integration)
    assert conn["status"] == "error" and conn["last_error_kind"] == "auth"
    secret_values = [
        v
        for k, v in su.creds[integration].items()
        if k in {"auth_token", "api_key", "secret_key", "access_token"}
    ]
    for v in secret_values:
        assert v not in r.text and v not in str(su.run(r.json()["run_id"]))


def test_rate_limit_reports_retry_after_and_warns(live_hub, sandbox_):
    su = Setup(live_hub, "twilio")
    sandbox_.fault("twilio", 429, retry_after=30)
    r = su.call("send_sms", {"to": "+14155550123", "body": "hi"})
    assert r.status_code == 429 and r.headers["retry-after"] == "30"
    err = r.json()["error"]
    assert err["kind"] == "rate_limited" and err["retry_after_s"] == 30
    assert su.connection("twilio")["status"] == "warning"
    assert su.run(r.json()["run_id"])["retry_after_s"] == 30


def test_outage_warns_and_a_later_success_clears_it(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    sandbox_.fault("stripe", 503)
    args = {"amount": 100, "currency": "USD", "description": "d"}
    err = su.call("create_payment_link", args, reasoning=REASON).json()["error"]
    assert err["kind"] == "vendor_unavailable" and err["vendor_status"] == 503
    assert su.connection("stripe")["status"] == "warning"
    ok = su.call("create_payment_link", args, reasoning=REASON)
    assert ok.status_code == 200, ok.text
    assert su.connection("stripe")["status"] == "connected"


def test_unreachable_vendor_is_vendor_unavailable(live_hub, sandbox_):
    su = Setup(live_hub, "twilio", twilio="http://127.0.0.1:9/twilio")  # nothing listens on 9
    r = su.call("send_sms", {"to": "+14155550123", "body": "hi"})
    err = r.json()["error"]
    assert err["kind"] == "vendor_unavailable" and "could not be reached" in err["message"]
    assert "ECONNREFUSED" in err["message"]
    assert su.connection("twilio")["status"] == "warning"


def test_a_refused_grant_answers_in_the_contracts_shape(live_hub):
    """The workflow answers grant_refused when the hub's edge refuses the grant (here: an
    unknown one, posted straight to the webhook the way the hub would)."""
    rt = live_hub.runtime
    with rt.db.session() as s:
        secret = secret_of(s, rt.vault, get_instance(s).webhook_secret_credential_id, "secret")
    body = {
        "run_id": "run_nosuch",
        "tenant_id": "t",
        "tool": "send_sms",
        "args": {"to": "+14155550123", "body": "hi"},
        "grant": "gr_" + secrets.token_urlsafe(32),
        "idempotency_key": "k",
        "edge_url": f"{live_hub.url}/edge/credentials",
    }
    r = httpx.post(
        live_hub.n8n.webhook_url("hub/twilio/send_sms/v1"),
        json=body,
        headers={WEBHOOK_AUTH_HEADER: secret},
        timeout=30,
    )
    assert r.status_code == 200
    assert r.json() == {
        "ok": False,
        "error": {
            "kind": "grant_refused",
            "message": "The hub refused the credential grant: Unknown credential grant.",
        },
    }


# --------------------------------------------------------------------------- routing


def test_a_tenant_with_only_square_is_charged_through_square(live_hub, sandbox_):
    su = Setup(live_hub, "square")
    args = {"amount": 100, "currency": "USD", "customer_id": "c", "payment_method_id": "ccof:1"}
    r = su.call("charge_card", args, reasoning=REASON)
    assert r.status_code == 200, r.text
    assert su.run(r.json()["run_id"])["provider"] == "square"
    assert len(sandbox_.requests("square")) == 1 and sandbox_.requests("stripe") == []


def test_with_stripe_and_square_the_tenants_default_wins(live_hub, sandbox_):
    su = Setup(live_hub, "stripe", "square")
    args = {"amount": 100, "currency": "USD", "customer_id": "c", "payment_method_id": "pm_1"}
    r = su.call("charge_card", args, reasoning=REASON)
    assert su.run(r.json()["run_id"])["provider"] == "stripe"  # the registry's default
    with live_hub.runtime.db.session() as s:
        t = s.get(Tenant, su.tenant.id)
        t.settings = {**(t.settings or {}), "default_providers": {"charge_card": "square"}}
    sandbox_.clear()
    r = su.call("charge_card", args, reasoning=REASON)
    assert r.status_code == 200, r.text
    assert su.run(r.json()["run_id"])["provider"] == "square"
    assert len(sandbox_.requests("square")) == 1 and sandbox_.requests("stripe") == []


# --------------------------------------------------------------------------- idempotency


def test_the_same_key_returns_the_same_run_and_sends_once(live_hub, sandbox_):
    su = Setup(live_hub, "twilio")
    args = {"to": "+14155550123", "body": "Reminder: tomorrow 9am"}
    first = su.call("send_sms", args, idempotency_key="reminder-77")
    second = su.call("send_sms", args, idempotency_key="reminder-77")
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert a["run_id"] == b["run_id"] and a["data"] == b["data"] and b.get("replayed") is True
    assert len(sandbox_.requests("twilio")) == 1

    other = su.call("send_sms", {**args, "body": "changed"}, idempotency_key="reminder-77")
    assert other.status_code == 422 and other.json()["error"]["kind"] == "idempotency_mismatch"
    assert len(sandbox_.requests("twilio")) == 1


def test_stripe_receives_the_callers_idempotency_key_once(live_hub, sandbox_):
    su = Setup(live_hub, "stripe")
    args = {"amount": 1200, "currency": "USD", "customer_id": "c", "payment_method_id": "pm"}
    key = f"charge-{uuid.uuid4().hex}"
    runs = {
        su.call("charge_card", args, reasoning=REASON, idempotency_key=key).json()["run_id"]
        for _ in range(2)
    }
    assert len(runs) == 1
    (rec,) = sandbox_.requests("stripe")
    assert rec.headers["idempotency-key"] == key
