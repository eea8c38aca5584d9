"""Delivery from the store to the provider's n8n handler workflow (a real n8n): n8n down
means waiting, not losing or spending attempts; a failing handler is retried with backoff
and dead-lettered; a replay delivers it again (SECURITY 13)."""

from __future__ import annotations

import json
import secrets
import socket
import time

import httpx
import pytest

from hub.n8n.invoke import WebhookInvoker
from hub.webhooks import events as store
from tests.helpers import twilio_credentials
from tests.webhooks import kit

pytestmark = pytest.mark.n8n


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send_sms_event(hub, url: str, token: str, body_text: str = "Tuesday at 9?") -> httpx.Response:
    """An inbound SMS as Twilio posts it, signed with the account's auth token."""
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "SmsStatus": "received",
        "From": "+15551230000",
        "To": "+15005550006",
        "Body": body_text,
    }
    sig = kit.twilio_form_signature(token, url, params)
    return httpx.post(
        url,
        content=kit.form(params),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sig,
        },
    )


def wait_for(hub, t, event_id: str, status: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        ev = httpx.get(f"{hub.url}/api/events/{event_id}", headers=t.h("agent")).json()
        if ev["status"] == status:
            return ev
        if time.monotonic() > deadline:
            raise AssertionError(f"event stayed {ev['status']}: {ev}")
        time.sleep(0.1)


def twilio_hook(hub, t) -> tuple[str, str]:
    token = secrets.token_hex(16)
    conn = hub.connect(t, "twilio", twilio_credentials(token))
    return conn["webhook_url"], token


def test_n8n_down_then_delivered_once(live_hub):
    hub = live_hub
    t = hub.tenant("wh-down")
    url, token = twilio_hook(hub, t)
    real = hub.runtime.calls.hop
    hub.runtime.calls.hop = WebhookInvoker(f"http://127.0.0.1:{closed_port()}", "unused")
    try:
        started = time.monotonic()
        r = send_sms_event(hub, url, token)
        assert r.status_code == 200, r.text
        assert time.monotonic() - started < 3.0  # acknowledged though n8n is down
        event_id = r.json()["event_id"]
        deadline = time.monotonic() + 10
        while True:
            ev = httpx.get(f"{hub.url}/api/events/{event_id}", headers=t.h("agent")).json()
            if ev["last_error"]:
                break
            assert time.monotonic() < deadline, ev
            time.sleep(0.1)
        assert ev["status"] in ("received", "delivering")
        assert "n8n unreachable" in ev["last_error"]
        time.sleep(3.5)  # more retries while down: waiting spends no attempt
        ev = httpx.get(f"{hub.url}/api/events/{event_id}", headers=t.h("agent")).json()
        assert ev["status"] != "dead" and ev["attempts"] <= 1
    finally:
        hub.runtime.calls.hop = real
    ev = wait_for(hub, t, event_id, "delivered")
    assert ev["attempts"] == 1 and ev["last_error"] is None
    assert ev["result"]["handled_by"] == "twilio/on_event v1"
    assert ev["result"]["event_id"] == event_id and ev["result"]["kind"] == "inbound_sms"
    listed = httpx.get(
        f"{hub.url}/api/events", params={"provider": "twilio"}, headers=t.h("agent")
    ).json()
    assert [e["id"] for e in listed["data"]] == [event_id]
    # An agent reads the inbound SMS through hub_query over MCP (the SDK's client).
    from tests.mcp.test_mcp import mcp_http, run

    async def read() -> dict:
        async with mcp_http(hub, t.agent) as c:
            q = await c.call_tool(
                "hub_query",
                {"type": "events", "filters": {"provider": "twilio"}, "include": ["payload"]},
            )
            assert not q.is_error, q.content
            return q.structured_content

    got = run(read)
    assert [e["id"] for e in got["data"]] == [event_id]
    assert got["data"][0]["payload"]["Body"] == "Tuesday at 9?"
    assert got["data"][0]["type"] == "sms.received"


def test_failing_handler_is_dead_lettered_then_replayed(live_hub, monkeypatch):
    hub = live_hub
    t = hub.tenant("wh-dead")
    url, token = twilio_hook(hub, t)
    monkeypatch.setattr(store, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(store, "BACKOFF_BASE_S", 0.01)
    # A JSON status event without a status: the v1 handler does not know its type.
    body = json.dumps({"sid": "SM" + secrets.token_hex(16)}).encode()
    import hashlib

    full = url + "?bodySHA256=" + hashlib.sha256(body).hexdigest()
    sig = kit.twilio_json_signature(token, full)
    r = httpx.post(
        full, content=body, headers={"content-type": "application/json", "X-Twilio-Signature": sig}
    )
    assert r.status_code == 200, r.text
    event_id = r.json()["event_id"]
    ev = wait_for(hub, t, event_id, "dead", timeout=30)
    assert ev["attempts"] == 3
    assert "does not handle events of type event" in ev["last_error"]
    events = httpx.get(f"{hub.url}/api/events", headers=t.h("agent")).json()
    assert events["dead_letter_count"] == 1
    audit = httpx.get(
        f"{hub.url}/api/audit", params={"action": "webhook.dead_lettered"}, headers=t.h("admin")
    ).json()["data"]
    assert [a["target"] for a in audit] == [event_id]

    refused = httpx.post(f"{hub.url}/api/events/{event_id}/replay", headers=t.h("agent"))
    assert refused.status_code == 403
    replayed = httpx.post(f"{hub.url}/api/events/{event_id}/replay", headers=t.h("admin"))
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replays"] == 1
    again = wait_for(hub, t, event_id, "dead", timeout=30)
    assert again["replays"] == 1 and again["attempts"] == 3
