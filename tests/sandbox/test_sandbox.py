"""The vendor sandbox: Prism mocks of the vendors' own specs behind the recording proxy."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

ACCOUNT = "AC" + "0" * 32
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
BASIC = ("AC" + "0" * 32, "auth-token")
SMS = {"To": "+15558675310", "From": "+15017122661", "Body": "Your code is 123456"}


@pytest.fixture
def sb(sandbox):
    sandbox.clear()
    yield sandbox
    sandbox.clear()


def test_valid_twilio_message_is_created_and_recorded(sb):
    resp = httpx.post(sb.base_url("twilio") + MESSAGES, auth=BASIC, data=SMS, timeout=10)
    assert resp.status_code == 201, resp.text
    assert resp.json()["sid"].startswith("SM")
    assert "sl-violations" not in resp.headers

    [rec] = sb.requests("twilio")
    assert (rec.vendor, rec.method, rec.path, rec.status) == ("twilio", "POST", MESSAGES, 201)
    assert rec.content_type == "application/x-www-form-urlencoded"
    assert rec.form == {k: [v] for k, v in SMS.items()}
    expected_auth = base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode()
    assert rec.headers["authorization"] == f"Basic {expected_auth}"
    assert rec.violations == [] and rec.fault is False
    assert rec.response_json()["sid"] == resp.json()["sid"]
    assert sb.requests("stripe") == []

    # the same record over HTTP, raw body included
    listed = httpx.get(f"{sb.proxy_url}/__sandbox/requests", params={"vendor": "twilio"}).json()
    [item] = listed["requests"]
    assert item["form"] == rec.form and item["status"] == 201
    assert base64.b64decode(item["body_base64"]) == rec.body
    assert httpx.delete(f"{sb.proxy_url}/__sandbox/requests").status_code == 204
    assert sb.requests() == []


def test_query_string_and_get_are_forwarded(sb):
    resp = httpx.get(
        sb.base_url("google_maps_geocode") + "/maps/api/geocode/json",
        params={"address": "1600 Amphitheatre Parkway", "key": "test-key"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert "results" in resp.json()
    [rec] = sb.requests("google_maps_geocode")
    assert rec.params == {"address": ["1600 Amphitheatre Parkway"], "key": ["test-key"]}


def test_missing_required_field_gives_4xx_with_violations(sb):
    # Twilio's spec declares no 4xx response: Prism generates a problem+json 422 and the
    # proxy lifts its `validation` list into the sl-violations header.
    no_to = {k: v for k, v in SMS.items() if k != "To"}
    resp = httpx.post(sb.base_url("twilio") + MESSAGES, auth=BASIC, data=no_to, timeout=10)
    assert 400 <= resp.status_code < 500
    violations = json.loads(resp.headers["sl-violations"])
    assert any("To" in v["message"] for v in violations)
    [rec] = sb.requests("twilio")
    assert rec.status == resp.status_code and rec.violations == violations

    # SendGrid's spec declares its 400: Prism itself sets sl-violations, passed through.
    resp = httpx.post(
        sb.base_url("sendgrid") + "/v3/mail/send",
        headers={"Authorization": "Bearer SG.test"},
        json={"from": {"email": "a@example.com"}, "subject": "hi"},
        timeout=10,
    )
    assert resp.status_code == 400
    assert "personalizations" in resp.headers["sl-violations"]
    assert resp.json()["errors"]  # SendGrid's own error shape
    assert sb.requests("sendgrid")[0].violations


def test_missing_credentials_get_401(sb):
    resp = httpx.post(sb.base_url("twilio") + MESSAGES, data=SMS, timeout=10)
    assert resp.status_code == 401


def test_rate_limit_fault_with_retry_after_then_service_resumes(sb):
    resp = httpx.post(
        f"{sb.proxy_url}/__sandbox/faults",
        json={"vendor": "twilio", "status": 429, "times": 2, "retry_after": 3},
    )
    assert resp.status_code == 201, resp.text
    for _ in range(2):
        limited = httpx.post(sb.base_url("twilio") + MESSAGES, auth=BASIC, data=SMS, timeout=10)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "3"
        assert limited.json()["code"] == 20429  # Twilio's error shape
    ok = httpx.post(sb.base_url("twilio") + MESSAGES, auth=BASIC, data=SMS, timeout=10)
    assert ok.status_code == 201
    assert [(r.status, r.fault) for r in sb.requests("twilio")] == [
        (429, True),
        (429, True),
        (201, False),
    ]
    assert httpx.get(f"{sb.proxy_url}/__sandbox/faults").json()["faults"] == []


@pytest.mark.parametrize(
    ("vendor", "method", "path", "status", "check"),
    [
        (
            "stripe",
            "POST",
            "/v1/customers",
            401,
            lambda b: b["error"]["type"] == "invalid_request_error",
        ),
        (
            "square",
            "POST",
            "/v2/payments",
            503,
            lambda b: b["errors"][0]["category"] == "API_ERROR",
        ),
        (
            "sendgrid",
            "POST",
            "/v3/mail/send",
            401,
            lambda b: "authorization" in b["errors"][0]["message"],
        ),
        (
            "docusign",
            "POST",
            "/restapi/v2.1/accounts/x/envelopes",
            401,
            lambda b: b["errorCode"] == "AUTHORIZATION_INVALID_TOKEN",
        ),
    ],
)
def test_faults_answer_in_the_vendors_error_shape(sb, vendor, method, path, status, check):
    sb.fault(vendor, status)
    resp = httpx.request(method, sb.base_url(vendor) + path, content=b"{}", timeout=10)
    assert resp.status_code == status
    assert "retry-after" not in resp.headers
    assert check(resp.json())
    # only the next request was affected: the following one reaches Prism again
    httpx.request(method, sb.base_url(vendor) + path, content=b"{}", timeout=10)
    assert [r.fault for r in sb.requests(vendor)] == [True, False]


def test_bad_fault_and_unknown_vendor_are_explained(sb):
    resp = httpx.post(f"{sb.proxy_url}/__sandbox/faults", json={"vendor": "nope", "status": 500})
    assert resp.status_code == 400 and "unknown sandbox vendor" in resp.json()["error"]
    resp = httpx.get(f"{sb.proxy_url}/nope/anything")
    assert resp.status_code == 404 and "twilio" in resp.json()["error"]
