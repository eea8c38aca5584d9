"""Calendars connected through OAuth, used through real n8n (issue 10, item 7).

The sandbox's authorization server (oidc-provider) stands in for Google's and Microsoft's;
the vendor APIs (Prism with Google Calendar's and Microsoft Graph's own specs) answer only
requests carrying a current access token (introspection). Connecting goes through the
hub's start, the provider's consent pages and the hub's callback, over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.sandbox.authserver import AuthServer
from tests.connections.oauth_kit import expire_now, register_apps, start_auth_server

pytestmark = pytest.mark.n8n

WINDOW = {"time_min": "2026-03-02T08:00:00-06:00", "time_max": "2026-03-02T18:00:00-06:00"}
EVENT = {
    "title": "Window cleaning - Johnson residence",
    "start": "2026-03-02T09:00:00-06:00",
    "end": "2026-03-02T10:30:00-06:00",
    "location": "12 Elm St",
    "attendees": ["jo@example.com"],
}


@pytest.fixture(scope="module")
def calendars(live_hub) -> Iterator[AuthServer]:  # type: ignore[no-untyped-def]
    """The authorization server for this hub's callback, apps registered, tokens required."""
    server = start_auth_server([f"{live_hub.url}/oauth/callback"])
    register_apps(live_hub.runtime, server)
    for integration in ("google_calendar", "outlook_calendar"):
        live_hub.sandbox.require_tokens(integration, server.token_check(integration))
    yield server
    for integration in ("google_calendar", "outlook_calendar"):
        live_hub.sandbox.state.token_checks.pop(live_hub.sandbox.vendor(integration), None)
    server.stop()


def connect(live_hub, server: AuthServer, tenant, integration: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Start (vendor API at the sandbox), consent, callback over HTTP; the hub then runs
    Save & Test, whose answer sets the status."""
    r = httpx.post(
        f"{live_hub.url}/api/oauth/{integration}/start",
        json={"base_url": live_hub.sandbox.base_url(integration)},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200, r.text
    callback = server.approve(
        r.json()["authorize_url"], "office@example.test", stop_at=f"{live_hub.url}/oauth/callback"
    )
    done = httpx.get(callback, timeout=60)
    assert done.status_code == 200, done.text
    conn_id = done.json()["connection_id"]
    r = httpx.get(f"{live_hub.url}/api/connections/{conn_id}", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize("integration", ["google_calendar", "outlook_calendar"])
def test_create_and_list_events(live_hub, calendars, integration):
    tenant = live_hub.tenant("cal")
    conn = connect(live_hub, calendars, tenant, integration)
    vendor = live_hub.sandbox.vendor(integration)
    assert conn["status"] == "connected"
    tested = live_hub.sandbox.requests(vendor)[-1]  # Save & Test ran right after the connect
    assert tested.method == "GET" and tested.status == 200
    live_hub.sandbox.clear()
    made = live_hub.call(tenant, "create_calendar_event", EVENT)
    assert made.status_code == 200, made.text
    data = made.json()["data"]
    assert data["event_id"] and data["start"] and data["end"]
    listed = live_hub.call(tenant, "list_calendar_events", WINDOW)
    assert listed.status_code == 200, listed.text
    assert isinstance(listed.json()["data"]["events"], list)
    reqs = live_hub.sandbox.requests(vendor)
    assert len(reqs) == 2 and reqs[0].status in (200, 201) and reqs[1].status == 200
    assert all(not r.violations for r in reqs), [r.violations for r in reqs]
    sent = reqs[0]
    assert sent.method == "POST"
    assert sent.headers["authorization"].startswith("Bearer ")
    # The access token never comes back to the caller.
    token = sent.headers["authorization"][7:]
    assert token not in made.text and token not in listed.text
    assert conn["status"] == "connected"


def test_expired_token_is_refreshed_at_the_edge(live_hub, calendars):
    tenant = live_hub.tenant("calr")
    conn = connect(live_hub, calendars, tenant, "outlook_calendar")
    old = expire_now(live_hub.runtime, tenant.id, conn["id"])
    before = calendars.counts()["refresh"]
    live_hub.sandbox.clear()
    r = live_hub.call(tenant, "list_calendar_events", WINDOW)
    assert r.status_code == 200, r.text
    assert calendars.counts()["refresh"] - before == 1
    sent = live_hub.sandbox.requests("outlook_calendar")[-1]
    assert sent.headers["authorization"] != f"Bearer {old['access_token']}"
    assert sent.status == 200


def test_a_token_the_provider_revoked_is_refused_by_the_vendor(live_hub, calendars):
    tenant = live_hub.tenant("calx")
    conn = connect(live_hub, calendars, tenant, "google_calendar")
    from tests.connections.oauth_kit import client_of, stored_tokens

    tok = stored_tokens(live_hub.runtime, tenant.id, conn["id"])
    c = client_of(calendars, "google_calendar")
    httpx.post(
        calendars.revoke_url,
        data={"token": tok["access_token"], "token_type_hint": "access_token"},
        auth=(c.client_id, c.client_secret),
    ).raise_for_status()
    r = live_hub.call(tenant, "list_calendar_events", WINDOW)
    body = r.json()
    assert body["status"] in ("failed", "paused"), body
    assert live_hub.sandbox.requests("google_calendar")[-1].status == 401
    health = httpx.get(
        f"{live_hub.url}/api/connections/{conn['id']}", headers=tenant.h("admin")
    ).json()
    assert health["status"] == "error"


def test_save_and_test_sets_the_status(live_hub, calendars):
    tenant = live_hub.tenant("calt")
    conn = connect(live_hub, calendars, tenant, "google_calendar")
    test_url = f"{live_hub.url}/api/connections/{conn['id']}/test"
    live_hub.sandbox.fault("google_calendar", 401)
    r = httpx.post(test_url, headers=tenant.h("admin"), timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "error" and "refused the test call" in r.json()["message"]
    live_hub.sandbox.fault("google_calendar", 429, retry_after=5)
    r = httpx.post(test_url, headers=tenant.h("admin"), timeout=60)
    assert r.json()["status"] == "error"  # a rate limit says nothing about the credentials
    r = httpx.post(test_url, headers=tenant.h("admin"), timeout=60)
    assert r.json() | {"run_id": None} == {
        "status": "connected",
        "tested": True,
        "message": "Connected: Google Calendar answered the test call.",
        "run_id": None,
    }
    assert httpx.post(test_url, headers=tenant.h("agent")).status_code == 403


def _hub_cli(live_hub, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """`hub ARGS` in its own process, configured like the live hub (same database and key)."""
    st = live_hub.runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_DATA_DIR": str(st.data_dir),
        "HUB_DATABASE_URL": st.database_url,
        "HUB_MASTER_KEY": st.master_key,
        "HUB_PUBLIC_URL": live_hub.url,
        "HUB_OUTBOUND_ALLOW": st.outbound_allow,
        "HUB_SCHEDULER_ENABLED": "false",
        "HUB_LOG_FORMAT": "json",
        "COLUMNS": "250",  # rich wraps tables to the terminal; a wide one keeps ids whole
    }
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_connections_test_and_list(live_hub, calendars):
    """`hub connections test` runs Save & Test through n8n from the shell: a vendor refusal
    exits 1 with the reason and the status it set; a pass exits 0. `list` shows no token."""
    from tests.connections.oauth_kit import iter_tokens, stored_tokens

    tenant = live_hub.tenant("calcli")
    conn = connect(live_hub, calendars, tenant, "google_calendar")
    live_hub.sandbox.fault("google_calendar", 401)
    bad = _hub_cli(live_hub, "connections", "test", "google_calendar", "--tenant", tenant.slug)
    assert bad.returncode == 1, bad.stderr
    assert "google_calendar: error." in bad.stdout and "refused the test call" in bad.stdout
    ok = _hub_cli(live_hub, "connections", "test", "google_calendar", "--tenant", tenant.slug)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "google_calendar: connected." in ok.stdout
    r = httpx.get(f"{live_hub.url}/api/connections/{conn['id']}", headers=tenant.h("admin"))
    assert r.json()["status"] == "connected"
    listed = _hub_cli(live_hub, "connections", "list", "--tenant", tenant.slug)
    assert (
        listed.returncode == 0
        and "google_calendar" in listed.stdout
        and conn["id"] in listed.stdout
    )
    for secret in iter_tokens(stored_tokens(live_hub.runtime, tenant.id, conn["id"])):
        assert secret not in listed.stdout + listed.stderr + ok.stdout + ok.stderr + bad.stderr
    missing = _hub_cli(live_hub, "connections", "test", "outlook_calendar", "--tenant", tenant.slug)
    assert missing.returncode == 1 and "connect it first" in missing.stderr


def _revoke_all(server: AuthServer, rt, tenant, conn_id: str) -> None:  # type: ignore[no-untyped-def]
    from tests.connections.oauth_kit import client_of, stored_tokens

    tok = stored_tokens(rt, tenant.id, conn_id)
    c = client_of(server, "google_calendar")
    for kind in ("access_token", "refresh_token"):
        httpx.post(
            server.revoke_url,
            data={"token": tok[kind], "token_type_hint": kind},
            auth=(c.client_id, c.client_secret),
        ).raise_for_status()


def test_calls_pause_while_in_error_and_resume_once_in_order(live_hub, calendars):
    from hub.runs.pausing import expire_paused

    tenant = live_hub.tenant("calp")
    conn = connect(live_hub, calendars, tenant, "google_calendar")
    _revoke_all(calendars, live_hub.runtime, tenant, conn["id"])
    # The vendor refuses the credentials: nothing was done, so the call is kept, not failed.
    first = live_hub.call(tenant, "create_calendar_event", EVENT)
    assert first.status_code == 202, first.text
    kept = first.json()
    assert kept["status"] == "paused" and kept["queue_id"] == kept["run_id"]
    assert "refused the connection's credentials" in kept["error"]["message"]
    # The connection is in error now: writes wait, reads fail fast (the catalog says which).
    paused = [kept["queue_id"]]
    for title in ("Job A", "Job B"):
        r = live_hub.call(tenant, "create_calendar_event", {**EVENT, "title": title})
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "paused" and body["queue_id"] == body["run_id"]
        paused.append(body["queue_id"])
    read = live_hub.call(tenant, "list_calendar_events", WINDOW)
    assert read.status_code == 409 and read.json()["error"]["kind"] == "not_connected"
    again = live_hub.call(tenant, "create_calendar_event", {**EVENT, "title": "Job C"})
    with live_hub.runtime.db.session() as s:
        from sqlalchemy import update

        from hub.db.base import utcnow
        from hub.runs.models import Run

        s.execute(
            update(Run).where(Run.id == again.json()["queue_id"]).values(paused_until=utcnow())
        )
        assert expire_paused(s) >= 1
    live_hub.sandbox.clear()
    # Reconnecting runs Save & Test; passing it resumes the paused calls, oldest first.
    connect(live_hub, calendars, tenant, "google_calendar")
    posts = [r for r in live_hub.sandbox.requests("google_calendar") if r.method == "POST"]
    assert [json.loads(r.body)["summary"] for r in posts] == [
        EVENT["title"],
        "Job A",
        "Job B",
    ]
    for run_id in paused:
        run = httpx.get(f"{live_hub.url}/api/runs/{run_id}", headers=tenant.h("admin")).json()
        assert run["status"] == "succeeded", run
    expired = httpx.get(
        f"{live_hub.url}/api/runs/{again.json()['queue_id']}", headers=tenant.h("admin")
    ).json()
    assert expired["status"] == "expired" and "expired" in expired["error_message"]
    # A second passing test resumes nothing: each paused call ran exactly once.
    r = httpx.post(
        f"{live_hub.url}/api/connections/{conn['id']}/test", headers=tenant.h("admin"), timeout=60
    )
    assert r.json()["status"] == "connected"
    assert [r for r in live_hub.sandbox.requests("google_calendar") if r.method == "POST"] == posts


def test_entering_error_emails_the_owner_once(live_hub, calendars):
    from hub.accounts import service as accounts
    from tests.e2e.test_tools import sendgrid_credentials

    tenant = live_hub.tenant("cale")
    with live_hub.runtime.db.session() as s:
        accounts.create_user(s, tenant.id, "owner@acme.test", "Owner-Passw0rd-1", role="owner")
    live_hub.connect(tenant, "sendgrid", sendgrid_credentials())
    conn = connect(live_hub, calendars, tenant, "google_calendar")
    _revoke_all(calendars, live_hub.runtime, tenant, conn["id"])
    live_hub.sandbox.clear()
    test_url = f"{live_hub.url}/api/connections/{conn['id']}/test"
    for _ in range(2):  # the second failure is the same incident: no second email
        r = httpx.post(test_url, headers=tenant.h("admin"), timeout=60)
        assert r.json()["status"] == "error", r.text
    mails = [r for r in live_hub.sandbox.requests("sendgrid") if r.method == "POST"]
    assert len(mails) == 1
    sent = json.loads(mails[0].body)
    assert sent["personalizations"][0]["to"] == [{"email": "owner@acme.test"}]
    assert "needs attention" in sent["subject"]
    assert "paused, not lost" in sent["content"][0]["value"]
    notes = httpx.get(f"{live_hub.url}/api/notifications", headers=tenant.h("admin")).json()
    assert [(n["kind"], n["email_status"]) for n in notes] == [("connection_error", "sent")]
