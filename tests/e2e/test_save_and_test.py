"""Save & Test for the API-key integrations and Google Business Profile (issue 10, item 4),
through real n8n against the sandbox (Prism with each vendor's spec): the internal
verify_credentials tool, run after every credential save and on POST
/api/connections/{id}/test, never seen or called by agents."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.e2e.test_calendars import connect
from tests.e2e.test_social import GBP, google  # noqa: F401 - the fixture
from tests.e2e.test_tools import CREDENTIALS, request_violations

pytestmark = pytest.mark.n8n


def dropbox_sign_credentials() -> dict[str, str]:
    return {"api_key": secrets.token_hex(32)}


CREDS = {**CREDENTIALS, "dropbox_sign": dropbox_sign_credentials}

# Integration -> (the read its verify_credentials workflow makes, the vendor's 401 reason the
# sandbox's fault sends, which the hub must pass on).
READS = {
    "twilio": ("/2010-04-01/Accounts/", "Authenticate"),
    "stripe": ("/v1/balance", "Invalid API Key provided"),
    "square": ("/v2/locations", "Unauthorized"),
    "sendgrid": ("/v3/scopes", "The provided authorization grant is invalid"),
    "mailgun": ("/v4/domains/mg.example.com", "Invalid private key"),
    "dropbox_sign": ("/v3/account", "Unauthorized"),
}


SECRET_FIELDS = {"auth_token", "api_key", "secret_key", "access_token"}


@pytest.fixture
def sandbox_(live_hub):
    """The live hub's sandbox, with no recordings or faults left from earlier tests."""
    live_hub.sandbox.clear()
    yield live_hub.sandbox
    live_hub.sandbox.clear()


def _connection(live_hub, tenant, conn_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{live_hub.url}/api/connections/{conn_id}", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _tested_audit(live_hub, tenant) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{live_hub.url}/api/audit?limit=200", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    return [e for e in r.json()["data"] if e["action"] == "connection.tested"]


@pytest.mark.parametrize("integration", sorted(READS))
def test_creating_a_connection_runs_its_test_call_and_answers_connected(
    live_hub, sandbox_, integration
):
    tenant = live_hub.tenant("sat")
    creds = CREDS[integration]()
    conn = live_hub.connect(tenant, integration, creds)
    assert conn["test"]["tested"] is True, conn["test"]
    assert conn["test"]["status"] == "connected", conn["test"]
    assert conn["test"]["message"].startswith("Connected: "), conn["test"]
    assert conn["status"] == "connected"
    (rec,) = sandbox_.requests(integration)  # one cheap read, nothing else
    path, _ = READS[integration]
    assert rec.method == "GET" and rec.path.startswith(path), (rec.method, rec.path)
    assert rec.status == 200 and request_violations(rec) == [], rec.violations
    assert rec.headers.get("authorization"), "the read must be authenticated"
    (audit,) = _tested_audit(live_hub, tenant)
    assert audit["target"] == conn["id"]
    # Neither the run record nor the answer holds a secret credential value.
    run = httpx.get(
        f"{live_hub.url}/api/runs/{conn['test']['run_id']}", headers=tenant.h("admin")
    ).json()
    assert run["tool"] == "verify_credentials" and run["status"] == "succeeded", run
    secrets_ = [v for k, v in creds.items() if k in SECRET_FIELDS]
    assert secrets_
    for value in secrets_:
        assert value not in str(run) and value not in str(conn)


@pytest.mark.parametrize("integration", sorted(READS))
def test_a_vendor_auth_failure_marks_the_connection_error_with_its_reason(
    live_hub, sandbox_, integration
):
    tenant = live_hub.tenant("saf")
    conn = live_hub.connect(tenant, integration, CREDS[integration]())
    assert conn["test"]["status"] == "connected", conn["test"]
    sandbox_.fault(integration, 401)
    r = httpx.post(
        f"{live_hub.url}/api/connections/{conn['id']}/test", headers=tenant.h("admin"), timeout=60
    )
    assert r.status_code == 200, r.text
    _, reason = READS[integration]
    got = r.json()
    assert got["status"] == "error" and got["tested"] is True, got
    assert "refused the test call" in got["message"] and reason in got["message"], got
    after = _connection(live_hub, tenant, conn["id"])
    assert after["status"] == "error" and after["last_error_kind"] == "auth"
    assert reason in after["last_error"]
    # The next test passes (the fault was one-shot): connected again.
    r = httpx.post(
        f"{live_hub.url}/api/connections/{conn['id']}/test", headers=tenant.h("admin"), timeout=60
    )
    assert r.json()["status"] == "connected", r.text
    # Audited each time: the create's test, the refused one, the passing one.
    outcomes = sorted(a["success"] for a in _tested_audit(live_hub, tenant))
    assert outcomes == [False, True, True]


def test_creating_with_refused_credentials_answers_the_vendors_reason(live_hub, sandbox_):
    tenant = live_hub.tenant("sar")
    sandbox_.fault("stripe", 401)
    conn = live_hub.connect(tenant, "stripe", CREDS["stripe"]())
    assert conn["status"] == "error", conn
    assert conn["test"]["status"] == "error" and conn["test"]["tested"] is True
    assert "Invalid API Key provided" in conn["test"]["message"]
    assert "Invalid API Key provided" in conn["last_error"]


def test_updating_credentials_runs_the_test_and_answers_its_outcome(live_hub, sandbox_):
    tenant = live_hub.tenant("sau")
    conn = live_hub.connect(tenant, "sendgrid", CREDS["sendgrid"]())
    url = f"{live_hub.url}/api/connections/{conn['id']}"
    # A key without Mail Send: SendGrid accepts it, but the hub could not send with it.
    sandbox_.fault("sendgrid", 200, body={"scopes": ["alerts.read", "stats.read"]})
    new = CREDS["sendgrid"]()
    r = httpx.patch(url, json={"credentials": new}, headers=tenant.h("admin"), timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "error" and body["test"]["status"] == "error", body
    assert "mail.send" in body["test"]["message"] and "mail.send" in body["last_error"]
    # The right key: connected, and the response says so.
    r = httpx.patch(
        url, json={"credentials": CREDS["sendgrid"]()}, headers=tenant.h("admin"), timeout=60
    )
    assert r.json()["status"] == "connected", r.text
    assert "has the required permissions" in r.json()["test"]["message"]
    # A new label is no credential update: no test call, no test in the answer.
    before = len(sandbox_.requests("sendgrid"))
    r = httpx.patch(url, json={"account_label": "Office"}, headers=tenant.h("admin"), timeout=60)
    assert r.status_code == 200 and r.json()["test"] is None, r.text
    assert len(sandbox_.requests("sendgrid")) == before


def test_an_agent_can_neither_see_nor_call_verify_credentials(live_hub, sandbox_):
    tenant = live_hub.tenant("saa")
    live_hub.connect(tenant, "twilio", CREDS["twilio"]())
    sandbox_.clear()
    listed = httpx.get(f"{live_hub.url}/api/tools", headers=tenant.h("agent")).json()
    names = {t["name"] for t in listed["tools"]}
    assert "send_sms" in names and "verify_credentials" not in names
    r = httpx.get(f"{live_hub.url}/api/tools/verify_credentials", headers=tenant.h("agent"))
    assert r.status_code == 403 and "Save & Test" in r.json()["error"]["message"], r.text
    integ = httpx.get(f"{live_hub.url}/api/integrations/twilio", headers=tenant.h("agent"))
    assert "verify_credentials" not in integ.text
    for kind in ("agent", "admin"):  # nobody reaches it through the tool-call path
        r = live_hub.call(tenant, "verify_credentials", {}, kind=kind)
        assert r.status_code == 403, r.text
        err = r.json()["error"]
        assert err["kind"] == "forbidden" and "POST /api/connections/{id}/test" in err["message"]
    from hub.registry.service import capabilities

    with live_hub.runtime.db.session() as s:
        doc = capabilities(s, {"twilio"})
    offered = {a["name"] for d in doc["data"]["domains"] for a in d["actions"]}
    assert "send_sms" in offered and "verify_credentials" not in offered
    assert sandbox_.requests("twilio") == []  # the refused calls never reached the vendor


def test_google_business_profile_tests_the_configured_listing(live_hub, sandbox_, google):  # noqa: F811
    """GBP connects by OAuth before the admin names the account and location its test reads:
    until then the test does not ask Google (and says what to set); once they are set, Save &
    Test lists the location's posts with the OAuth access token (the sandbox accepts only a
    current one) and its answer sets the status."""
    tenant = live_hub.tenant("sag")
    conn = connect(live_hub, google, tenant, GBP)
    assert conn["status"] == "connected"
    assert sandbox_.requests(GBP) == []  # the connect's test had nothing to read yet
    test_url = f"{live_hub.url}/api/connections/{conn['id']}/test"
    r = httpx.post(test_url, headers=tenant.h("admin"), timeout=60)
    got = r.json()
    assert r.status_code == 200 and got["tested"] is False and got["status"] == "connected", got
    assert "account_id" in got["message"] and "location_id" in got["message"], got
    assert sandbox_.requests(GBP) == []

    # Naming the listing runs Save & Test: one cheap read of that location, nothing posted.
    ids = {"account_id": "112233445566778899001", "location_id": "987654321"}
    r = httpx.patch(
        f"{live_hub.url}/api/connections/{conn['id']}",
        json={"config": ids},
        headers=tenant.h("admin"),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["test"]["tested"] is True and body["test"]["status"] == "connected", body["test"]
    assert "posts of location 987654321" in body["test"]["message"], body["test"]
    (rec,) = sandbox_.requests(GBP)
    where = "/v4/accounts/112233445566778899001/locations/987654321/localPosts"
    assert rec.method == "GET" and rec.path.endswith(where) and "pageSize=1" in rec.query
    assert rec.status == 200 and request_violations(rec) == [], rec.violations
    token = rec.headers["authorization"].removeprefix("Bearer ")
    assert token and google.token_check(GBP)(token)  # the connection's live access token
    run = httpx.get(
        f"{live_hub.url}/api/runs/{body['test']['run_id']}", headers=tenant.h("admin")
    ).json()
    assert run["tool"] == "verify_credentials" and run["provider"] == GBP, run
    assert token not in str(run) and token not in r.text

    # Google's refusal is the verdict: error, with Google's reason; then connected again.
    sandbox_.fault(GBP, 401)
    got = httpx.post(test_url, headers=tenant.h("admin"), timeout=60).json()
    assert got["status"] == "error" and got["tested"] is True, got
    assert "Request had invalid authentication credentials." in got["message"], got
    assert _connection(live_hub, tenant, conn["id"])["last_error_kind"] == "auth"
    got = httpx.post(test_url, headers=tenant.h("admin"), timeout=60).json()
    assert got["status"] == "connected", got
    outcomes = sorted(a["success"] for a in _tested_audit(live_hub, tenant))
    assert outcomes == [False, True, True]
