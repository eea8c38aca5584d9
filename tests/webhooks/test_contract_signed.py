"""send_contract through Dropbox Sign (real n8n, the sandbox serving Dropbox Sign's spec),
then the signature event: the hub re-reads the request from Dropbox Sign before recording
the signed status and the document URL on the run (SECURITY 14)."""

from __future__ import annotations

import json
import secrets
import time

import httpx
import pytest

from tests.webhooks import kit

pytestmark = pytest.mark.n8n


def test_send_contract_then_signed_event_records_status_and_document(live_hub):
    hub = live_hub
    t = hub.tenant("sign")
    api_key = secrets.token_hex(32)
    conn = hub.connect(t, "dropbox_sign", {"api_key": api_key})
    hub.sandbox.clear()
    r = hub.call(
        t,
        "send_contract",
        {
            "title": "Window cleaning agreement",
            "signers": [{"name": "Pat Doe", "email": "pat@example.com"}],
            "document_url": "https://example.com/agreement.pdf",
        },
        reasoning="The customer asked for the agreement to sign today.",
    )
    assert r.status_code == 200, r.text
    run_id, contract_id = r.json()["run_id"], r.json()["data"]["contract_id"]
    assert r.json()["data"]["status"] == "sent"

    doc = kit.dropbox_sign_body(api_key)
    doc["signature_request"]["signature_request_id"] = contract_id
    # What the body claims is not believed: the hub reads the request back.
    doc["signature_request"]["is_complete"] = False
    got = httpx.post(conn["webhook_url"], files={"json": (None, json.dumps(doc))})
    assert got.status_code == 200 and got.text == "Hello API Event Received"
    event_id = None
    deadline = time.monotonic() + 30
    while True:
        events = httpx.get(
            f"{hub.url}/api/events", params={"provider": "dropbox_sign"}, headers=t.h("agent")
        ).json()["data"]
        if events and events[0]["status"] == "delivered":
            event_id = events[0]["id"]
            break
        assert time.monotonic() < deadline, events
        time.sleep(0.1)
    run = httpx.get(f"{hub.url}/api/runs/{run_id}", headers=t.h("agent")).json()
    assert run["result"]["contract_id"] == contract_id
    assert run["result"]["signed"] is True and run["result"]["status"] == "signed"
    assert run["result"]["document_url"].startswith(conn["base_url"] or "http")
    assert run["result"]["status_event_id"] == event_id
    reads = [q for q in hub.sandbox.requests("dropbox_sign") if q.method == "GET"]
    assert len(reads) == 1 and contract_id in reads[0].path
    assert api_key not in json.dumps(run) and api_key not in json.dumps(events)
