"""The console's Events page and the webhook URL on the connection page, in a real headless
Chromium against a live hub: statuses, attempts and errors shown, the dead-letter count in
the navigation, replay for admins only, the URL's copy button."""

from __future__ import annotations

import hashlib
import json
import secrets
import time

import httpx
import pytest
from playwright.sync_api import expect

from hub.webhooks import events as store
from tests.helpers import stripe_credentials, twilio_credentials
from tests.web.test_console import login, make_user, shot
from tests.webhooks import kit

pytestmark = [pytest.mark.browser, pytest.mark.n8n]


def wait_status(hub, t, event_id: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while (
        httpx.get(f"{hub.url}/api/events/{event_id}", headers=t.h("admin")).json()["status"]
        != status
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_events_page_dead_letter_count_and_replay(hub, page, ctx, backend_name, monkeypatch):
    t = hub.tenant("ev")
    secret = kit.stripe_secret()
    hub.connect(t, "stripe", {**stripe_credentials(), "webhook_signing_secret": secret})
    token = secrets.token_hex(16)
    twilio = hub.connect(t, "twilio", twilio_credentials(token))
    stripe_hook = httpx.get(f"{hub.url}/api/connections", headers=t.h("admin")).json()["data"]
    stripe_url = next(c["webhook_url"] for c in stripe_hook if c["integration"] == "stripe")
    body = kit.stripe_event("checkout.session.completed")
    ok = httpx.post(stripe_url, content=body, headers=kit.stripe_headers(body, secret))
    assert ok.status_code == 200, ok.text
    monkeypatch.setattr(store, "MAX_ATTEMPTS", 1)
    raw = json.dumps({"sid": "SM" + secrets.token_hex(16)}).encode()
    full = twilio["webhook_url"] + "?bodySHA256=" + hashlib.sha256(raw).hexdigest()
    bad = httpx.post(
        full,
        content=raw,
        headers={
            "content-type": "application/json",
            "X-Twilio-Signature": kit.twilio_json_signature(token, full),
        },
    )
    dead_id = bad.json()["event_id"]
    wait_status(hub, t, dead_id, "dead")
    wait_status(hub, t, ok.json()["event_id"], "delivered")

    admin = make_user(hub, t, "admin")
    login(page, admin, path="/login?next=/events")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_label("1 dead-lettered")).to_be_visible()
    rows = page.locator("table.events tbody tr")
    expect(rows).to_have_count(2)
    dead = page.locator(f"tr[data-id='{dead_id}']")
    expect(dead).to_contain_text("dead letter")
    expect(dead).to_contain_text("does not handle events of type event")
    expect(page.locator("tr[data-status='delivered']")).to_contain_text(
        "checkout.session.completed"
    )
    shot(page, backend_name, "events")
    monkeypatch.setattr(store, "MAX_ATTEMPTS", 12)
    monkeypatch.setattr(store, "BACKOFF_BASE_S", 60.0)  # the replayed attempt fails, then waits
    dead.get_by_role("button", name=f"Replay event {dead_id}").click()
    expect(page.get_by_role("status")).to_contain_text("queued for delivery again")
    deadline = time.monotonic() + 30
    while True:
        ev = httpx.get(f"{hub.url}/api/events/{dead_id}", headers=t.h("admin")).json()
        if ev["replays"] == 1 and ev["attempts"] == 1 and ev["status"] == "received":
            break
        assert time.monotonic() < deadline, ev
        time.sleep(0.1)
    page.goto("/events")
    expect(nav.get_by_label("1 dead-lettered")).to_have_count(0)

    # A member sees the events but no replay button.
    member_page = ctx.browser.new_context(base_url=hub.url).new_page()
    login(member_page, make_user(hub, t, "member"), path="/login?next=/events")
    expect(member_page.locator("table.events tbody tr")).to_have_count(2)
    expect(member_page.get_by_role("button", name="Replay", exact=False)).to_have_count(0)
    member_page.context.close()

    # The connection page shows the webhook URL beside the signing secret, with a copy button.
    page.goto("/integrations/stripe/connect")
    url_field = page.get_by_label("Webhook URL")
    expect(url_field).to_have_value(stripe_url)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    shot(page, backend_name, "connection-webhook-url")
