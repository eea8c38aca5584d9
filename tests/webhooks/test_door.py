"""The door (SECURITY 6-12): each vendor's scheme over the raw bytes, signed with the vendor's
own SDK where one exists; nothing is stored when verification fails; duplicates are stored
once; another tenant's secret never verifies an endpoint."""

from __future__ import annotations

import hashlib
import json
import secrets
import time

import pytest
from sendgrid.helpers.eventwebhook import EventWebhook
from square.utils.webhooks_helper import verify_signature as square_verify

from tests.helpers import square_credentials, stripe_credentials
from tests.webhooks import kit


def events_of(client, t, **params) -> list[dict]:
    r = client.get("/api/events", params=params, headers=t.h("admin"))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def flip_one_byte(body: bytes) -> bytes:
    i = len(body) // 2
    return body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]


# -- Stripe (SECURITY 7, 11, 12) -----------------------------------------------------------


def test_stripe_signed_event_is_stored_once_and_acknowledged(client, tenant):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    body = kit.stripe_event()
    r = client.post(path, content=body, headers=kit.stripe_headers(body, secret))
    assert r.status_code == 200, r.text
    assert r.json()["received"] is True and r.json()["duplicate"] is False
    again = client.post(path, content=body, headers=kit.stripe_headers(body, secret))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    stored = events_of(client, tenant, provider="stripe")
    assert len(stored) == 1
    assert stored[0]["vendor_event_id"] == json.loads(body)["id"]
    assert stored[0]["type"] == "payment_intent.succeeded"
    assert stored[0]["payload"] == json.loads(body)


# Future skews carry a margin: the time between signing and checking shortens them (a +301
# signed on a loaded machine could arrive 299 s ahead and rightly pass).
@pytest.mark.parametrize("skew", [-301, 330, -3600])
def test_stripe_stale_or_future_timestamp_is_refused(client, tenant, skew):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    body = kit.stripe_event()
    headers = kit.stripe_headers(body, secret, ts=int(time.time()) + skew)
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["kind"] == "invalid_signature"
    assert "300 s" in r.json()["error"]["message"]
    assert events_of(client, tenant) == []


def test_stripe_one_changed_byte_is_refused_and_not_stored(client, tenant):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    body = kit.stripe_event()
    headers = kit.stripe_headers(body, secret)
    r = client.post(path, content=flip_one_byte(body), headers=headers)
    assert r.status_code == 400 and events_of(client, tenant) == []


def test_stripe_several_v1_values_one_matching(client, tenant):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    body = kit.stripe_event()
    good = kit.stripe_headers(body, secret)["Stripe-Signature"]
    ts, v1 = good.split(",")
    wrong = "v1=" + "0" * 64
    header = f"{ts},{wrong},{v1},v0=deadbeef"
    r = client.post(path, content=body, headers={"Stripe-Signature": header})
    assert r.status_code == 200, r.text
    only_wrong = client.post(
        path, content=kit.stripe_event(), headers={"Stripe-Signature": f"{ts},{wrong}"}
    )
    assert only_wrong.status_code == 400


def test_another_tenants_secret_never_verifies(client, tenant, other_tenant):
    mine, theirs = kit.stripe_secret(), kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, mine)
    kit.stripe_endpoint(client, other_tenant, theirs)
    body = kit.stripe_event()
    r = client.post(path, content=body, headers=kit.stripe_headers(body, theirs))
    assert r.status_code == 400
    assert events_of(client, tenant) == [] and events_of(client, other_tenant) == []


def test_unknown_endpoint_and_wrong_provider_are_404(client, tenant):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    body = kit.stripe_event()
    headers = kit.stripe_headers(body, secret)
    assert (
        client.post("/webhooks/stripe/whk_nope", content=body, headers=headers).status_code == 404
    )
    wrong = path.replace("/stripe/", "/square/")
    assert client.post(wrong, content=body, headers=headers).status_code == 404
    assert events_of(client, tenant) == []


def test_refusals_are_counted_and_audited_once_per_window(client, tenant, app):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    for _ in range(25):
        body = kit.stripe_event()
        client.post(path, content=body, headers=kit.stripe_headers(body, "whsec_wrong"))
    door = app.state.webhook_door
    with app.state.db.session() as s:
        door.refusals.flush(s, force=True)
    audit = client.get(
        "/api/audit", params={"action": "webhook.refused"}, headers=tenant.h("admin")
    ).json()["data"]
    assert len(audit) == 1 and audit[0]["details"]["count"] == 25
    conn_id = client.get("/api/connections", headers=tenant.h("admin")).json()["data"][0]["id"]
    hook = client.get(f"/api/connections/{conn_id}/webhook", headers=tenant.h("admin")).json()
    assert hook["refused_count"] == 25 and hook["last_refusal"] == "bad_signature"


def test_webhook_url_is_in_the_connection_and_secret_never_shown(client, tenant):
    secret = kit.stripe_secret()
    conn = kit.connect(
        client, tenant, "stripe", {**stripe_credentials(), "webhook_signing_secret": secret}
    )
    assert conn["webhook_url"].startswith("http://127.0.0.1:8000/webhooks/stripe/whk_")
    endpoint_id = conn["webhook_url"].rsplit("/", 1)[1]
    assert len(endpoint_id) >= 20  # 128 random bits
    r = client.put(
        f"/api/connections/{conn['id']}/webhook",
        json={"signing_secret": "whsec_" + "c" * 40},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200 and ("c" * 10) not in r.text and secret not in r.text
    assert "..." in r.json()["secrets"]["signing_secret"]
    agent = client.put(
        f"/api/connections/{conn['id']}/webhook",
        json={"signing_secret": "whsec_x"},
        headers=tenant.h("agent"),
    )
    assert agent.status_code == 403


# -- Twilio (SECURITY 10) -------------------------------------------------------------------


def test_twilio_form_with_and_without_default_port_and_changed_param(client, tenant):
    token = secrets.token_hex(16)
    path, url = kit.twilio_endpoint(client, tenant, token)
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "SmsStatus": "received",
        "From": "+15551230000",
        "Body": "Is Tuesday ok?",
    }
    body = kit.form(params)
    ct = {"content-type": "application/x-www-form-urlencoded"}
    # The hub's public URL has port 8000; a proxy in front at https://hooks.example.com.
    public = "https://hooks.example.com" + path
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com", **ct}
    sig = kit.twilio_form_signature(token, public, params)
    r = client.post(path, content=body, headers={**proxied, "X-Twilio-Signature": sig})
    assert r.status_code == 200, r.text
    # Twilio signed with an explicit :443 this time.
    params2 = {**params, "MessageSid": "SM" + secrets.token_hex(16)}
    sig2 = kit.twilio_form_signature(token, "https://hooks.example.com:443" + path, params2)
    r2 = client.post(
        path, content=kit.form(params2), headers={**proxied, "X-Twilio-Signature": sig2}
    )
    assert r2.status_code == 200, r2.text
    # Signed without the port the hub's URL has? No: 8000 is not a default port.
    sig3 = kit.twilio_form_signature(token, url, params)
    changed = {**params, "Body": "Is Wednesday ok?"}
    r3 = client.post(path, content=kit.form(changed), headers={**ct, "X-Twilio-Signature": sig3})
    assert r3.status_code == 400
    stored = events_of(client, tenant, provider="twilio")
    assert len(stored) == 2 and {e["type"] for e in stored} == {"sms.received"}
    assert stored[-1]["payload"]["Body"] == "Is Tuesday ok?"


def test_twilio_json_body_signed_through_body_sha256(client, tenant):
    token = secrets.token_hex(16)
    path, url = kit.twilio_endpoint(client, tenant, token)
    body = json.dumps({"event": "message.status", "sid": "SM1"}).encode()
    query = "?bodySHA256=" + hashlib.sha256(body).hexdigest()
    sig = kit.twilio_json_signature(token, url + query)
    headers = {"content-type": "application/json", "X-Twilio-Signature": sig}
    assert client.post(path + query, content=body, headers=headers).status_code == 200
    bad = client.post(path + query, content=flip_one_byte(body), headers=headers)
    assert bad.status_code == 400


# -- Slack (SECURITY 8) --------------------------------------------------------------------


def test_slack_window_challenge_and_event(client, tenant):
    secret = secrets.token_hex(16)
    path = kit.scheme_endpoint(client, tenant, "slack_v0", secret)
    challenge = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    r = client.post(path, content=challenge, headers=kit.slack_headers(secret, challenge))
    assert r.status_code == 200 and r.text == "c-123"
    event = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}})
    ok = client.post(path, content=event, headers=kit.slack_headers(secret, event.encode()))
    assert ok.status_code == 200, ok.text
    stale = kit.slack_headers(secret, event.encode(), ts=int(time.time()) - 301)
    assert client.post(path, content=event, headers=stale).status_code == 400
    changed = flip_one_byte(event.encode())
    assert (
        client.post(
            path, content=changed, headers=kit.slack_headers(secret, event.encode())
        ).status_code
        == 400
    )
    stored = events_of(client, tenant)
    assert [(e["vendor_event_id"], e["type"]) for e in stored] == [("Ev1", "message")]


# -- Standard Webhooks (SECURITY 9) --------------------------------------------------------


@pytest.mark.parametrize("prefixed", [True, False])
def test_standard_webhooks_every_signature_both_secret_forms(client, tenant, prefixed):
    import base64

    raw = base64.b64encode(secrets.token_bytes(24)).decode()
    secret = f"whsec_{raw}"
    path = kit.scheme_endpoint(client, tenant, "standard_webhooks", secret if prefixed else raw)
    body = json.dumps({"type": "invoice.paid", "data": {}}).encode()
    h = kit.standard_headers(secret, body, "msg_" + secrets.token_hex(6))
    # Several signatures listed; the matching one is last (every one is checked).
    h["webhook-signature"] = "v1,AAAA v1a,BBBB " + h["webhook-signature"]
    assert client.post(path, content=body, headers=h).status_code == 200
    for skew in (-301, 330):
        stale = kit.standard_headers(
            secret, body, "msg_" + secrets.token_hex(6), ts=int(time.time()) + skew
        )
        assert client.post(path, content=body, headers=stale).status_code == 400
    h2 = kit.standard_headers(secret, body, "msg_" + secrets.token_hex(6))
    assert client.post(path, content=flip_one_byte(body), headers=h2).status_code == 400
    assert len(events_of(client, tenant)) == 1


# -- Meta ----------------------------------------------------------------------------------


def test_meta_challenge_and_signature(client, tenant):
    secret, token = secrets.token_hex(16), secrets.token_hex(8)
    path = kit.scheme_endpoint(client, tenant, "meta_sha256", secret, verify_token=token)
    q = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    r = client.get(path, params=q)
    assert r.status_code == 200 and r.text == "1158201444"
    assert client.get(path, params={**q, "hub.verify_token": "nope"}).status_code == 403
    body = json.dumps({"object": "page", "entry": [{"id": "1", "time": 1}]}).encode()
    assert (
        client.post(path, content=body, headers=kit.meta_headers(secret, body)).status_code == 200
    )
    bad = client.post(path, content=flip_one_byte(body), headers=kit.meta_headers(secret, body))
    assert bad.status_code == 400


# -- Square --------------------------------------------------------------------------------


def test_square_signature_over_url_and_body(client, tenant):
    key = secrets.token_hex(12)
    conn = kit.connect(
        client, tenant, "square", {**square_credentials(), "webhook_signature_key": key}
    )
    url, path = conn["webhook_url"], kit.path_of(conn["webhook_url"])
    body = json.dumps(
        {"event_id": "sq-" + secrets.token_hex(6), "type": "payment.updated"}
    ).encode()
    sig = kit.square_signature(key, url, body)
    # The test's signer agrees with squareup's own verifier.
    assert square_verify(
        request_body=body.decode(), signature_header=sig, signature_key=key, notification_url=url
    )
    h = {"x-square-hmacsha256-signature": sig, "content-type": "application/json"}
    assert client.post(path, content=body, headers=h).status_code == 200
    assert client.post(path, content=flip_one_byte(body), headers=h).status_code == 400


# -- DocuSign Connect ----------------------------------------------------------------------


def test_docusign_connect_any_listed_signature(client, tenant):
    key = secrets.token_hex(16)
    path = kit.scheme_endpoint(client, tenant, "docusign_connect_hmac_sha256", key)
    body = json.dumps(
        {
            "event": "envelope-completed",
            "generatedDateTime": "2026-12-02T06:00:00Z",
            "data": {"envelopeId": "env-1"},
        }
    ).encode()
    h = {
        "X-DocuSign-Signature-1": "bm90IGl0",
        "X-DocuSign-Signature-2": kit.docusign_signature(key, body),
        "content-type": "application/json",
    }
    assert client.post(path, content=body, headers=h).status_code == 200
    assert client.post(path, content=flip_one_byte(body), headers=h).status_code == 400
    assert events_of(client, tenant)[0]["type"] == "envelope-completed"


# -- Dropbox Sign (SECURITY 14) ------------------------------------------------------------


def test_dropbox_sign_event_hash_and_ack_text(client, tenant):
    from dropbox_sign import EventCallbackHelper
    from dropbox_sign.models import EventCallbackRequest

    api_key = secrets.token_hex(32)
    path = kit.scheme_endpoint(client, tenant, "dropbox_sign_event_hash", api_key)
    doc = kit.dropbox_sign_body(api_key)
    assert EventCallbackHelper.is_valid(api_key, EventCallbackRequest.init(doc))
    r = client.post(path, data={"json": json.dumps(doc)})  # multipart/urlencoded form
    assert r.status_code == 200 and r.text == "Hello API Event Received"
    test_event = kit.dropbox_sign_body(api_key, kind="callback_test")
    t = client.post(path, data={"json": json.dumps(test_event)})
    assert t.text == "Hello API Event Received"
    forged = kit.dropbox_sign_body("someone-elses-key")
    assert client.post(path, data={"json": json.dumps(forged)}).status_code == 400
    stored = events_of(client, tenant)
    assert [e["type"] for e in stored] == ["signature_request_all_signed"]


# -- SendGrid (ECDSA) ----------------------------------------------------------------------


def test_sendgrid_ecdsa(client, tenant):
    private, public = kit.sendgrid_keypair()
    api_key = "SG." + "a" * 22 + "." + "b" * 43
    conn = kit.connect(
        client,
        tenant,
        "sendgrid",
        {"api_key": api_key, "from_email": "ops@example.com", "event_webhook_public_key": public},
    )
    path = kit.path_of(conn["webhook_url"])
    body = json.dumps(
        [{"sg_event_id": "sg-" + secrets.token_hex(6), "event": "delivered"}]
    ).encode()
    h = kit.sendgrid_headers(private, body)
    ew = EventWebhook(public)
    assert ew.verify_signature(
        body.decode(),
        h["X-Twilio-Email-Event-Webhook-Signature"],
        h["X-Twilio-Email-Event-Webhook-Timestamp"],
    )
    assert client.post(path, content=body, headers=h).status_code == 200
    assert client.post(path, content=flip_one_byte(body), headers=h).status_code == 400
    stale = kit.sendgrid_headers(private, body, ts=int(time.time()) - 3600)
    assert client.post(path, content=body, headers=stale).status_code == 400
    assert [e["type"] for e in events_of(client, tenant)] == ["delivered"]


# -- the door's lane (hub.webhooks.lane): the edge's rules hold, FastAPI's layers skipped ----


def test_the_lane_keeps_the_edge_rules(client, tenant, hub_runtime):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    body = kit.stripe_event()
    ok = client.post(path, content=body, headers=kit.stripe_headers(body, secret))
    assert ok.status_code == 200 and len(ok.headers["x-request-id"]) == 16
    for bad in ("/webhooks/stripe", "/webhooks/stripe/x/y", "/webhooks//x"):
        r = client.post(bad, content=body, headers=kit.stripe_headers(body, secret))
        assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found", bad
    put = client.put(path, content=body, headers=kit.stripe_headers(body, secret))
    assert put.status_code == 405 and put.json()["error"]["kind"] == "method_not_allowed"
    limit = hub_runtime.settings.max_body_bytes
    huge = kit.stripe_event(note="x" * (limit + 1))
    r = client.post(path, content=huge, headers=kit.stripe_headers(huge, secret))
    assert r.status_code == 413 and r.json()["error"]["kind"] == "too_large"
    nul = client.post(path + "?a=%00", content=body, headers=kit.stripe_headers(body, secret))
    assert nul.status_code == 422
    assert len(events_of(client, tenant, provider="stripe")) == 1  # only the good one
