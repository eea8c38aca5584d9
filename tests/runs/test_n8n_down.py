"""n8n down: a call fails fast with a clear error, loses nothing, and the same call succeeds
with its idempotency key once n8n is reachable again (SECURITY 29)."""

from __future__ import annotations

import socket

import httpx

from hub.n8n.invoke import WebhookInvoker
from tests.helpers import twilio_credentials


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_n8n_down_then_back(live_hub):
    hub = live_hub
    t = hub.tenant("down")
    hub.connect(t, "twilio", twilio_credentials())
    hub.sandbox.clear()
    real = hub.runtime.calls.hop
    hub.runtime.calls.hop = WebhookInvoker(f"http://127.0.0.1:{closed_port()}", "unused")
    args = {"to": "+15551234567", "body": "n8n is down"}
    try:
        r = hub.call(t, "send_sms", args, idempotency_key="down-1")
    finally:
        hub.runtime.calls.hop = real
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    assert err["kind"] == "n8n_unavailable" and "Nothing was sent" in err["message"]
    run_id = err["run_id"]
    run = httpx.get(f"{hub.url}/api/runs/{run_id}", headers=t.h("admin")).json()
    assert run["status"] == "failed" and run["args"] == args
    assert hub.sandbox.requests("twilio") == []

    again = hub.call(t, "send_sms", args, idempotency_key="down-1")
    assert again.status_code == 200, again.text
    assert again.json()["run_id"] == run_id and again.json()["status"] == "succeeded"
    assert len(hub.sandbox.requests("twilio")) == 1
    replay = hub.call(t, "send_sms", args, idempotency_key="down-1")
    assert replay.json()["replayed"] is True and len(hub.sandbox.requests("twilio")) == 1
