"""Connections over REST: create, list, get, update credentials, delete; masked hints only."""

from __future__ import annotations

from tests.helpers import canary, stripe_credentials, twilio_credentials


def connect(client, tenant, integration="twilio", creds=None, **extra):
    """POST /api/connections and return the response."""
    body = {
        "integration": integration,
        "credentials": creds if creds is not None else twilio_credentials(),
        **extra,
    }
    return client.post("/api/connections", json=body, headers=tenant.h("admin"))


def test_create_list_get_update_delete(client, tenant):
    secret = canary()
    creds = twilio_credentials(secret)
    r = connect(
        client, tenant, creds=creds, account_label="Main line", base_url="http://127.0.0.1:9/twilio"
    )
    assert r.status_code == 201, r.text
    conn = r.json()
    assert conn["status"] == "connected" and conn["account_label"] == "Main line"
    assert conn["credentials"]["account_sid"] == {"secret": False, "hint": creds["account_sid"]}
    hint = conn["credentials"]["auth_token"]
    assert hint["secret"] is True and secret not in hint["hint"]
    assert hint["hint"].endswith(secret[-4:]) and secret[4:-4] not in hint["hint"]

    listed = client.get("/api/connections", headers=tenant.h("ops")).json()["data"]
    assert [c["id"] for c in listed] == [conn["id"]]
    assert (
        client.get(f"/api/connections/{conn['id']}", headers=tenant.h("agent")).status_code == 200
    )

    new_secret = canary()
    r = client.patch(
        f"/api/connections/{conn['id']}",
        json={"credentials": {"auth_token": new_secret}},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["credentials"]["auth_token"]["hint"].endswith(new_secret[-4:])
    assert r.json()["credentials"]["account_sid"]["hint"] == creds["account_sid"]

    assert (
        client.delete(f"/api/connections/{conn['id']}", headers=tenant.h("admin")).status_code
        == 204
    )
    assert (
        client.get(f"/api/connections/{conn['id']}", headers=tenant.h("admin")).status_code == 404
    )
    actions = [
        a["action"]
        for a in client.get(
            "/api/audit", params={"action": "connection."}, headers=tenant.h("admin")
        ).json()["data"]
    ]
    assert actions == ["connection.deleted", "connection.updated", "connection.created"]


def test_update_writes_the_vault(client, tenant, hub_runtime):
    r = connect(client, tenant, "stripe", stripe_credentials())
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    new_key = stripe_credentials()["secret_key"]
    client.patch(
        f"/api/connections/{cid}",
        json={"credentials": {"secret_key": new_key}},
        headers=tenant.h("admin"),
    )
    from hub.connections.models import Connection

    with hub_runtime.db.session() as s:
        c = s.get(Connection, cid)
        assert hub_runtime.vault.read(s, tenant.id, c.credential_id) == {"secret_key": new_key}


def test_invalid_credentials_name_the_field_and_hide_the_value(client, tenant):
    bad = canary("sk_nope_")  # wrong prefix: fails the pattern
    r = connect(client, tenant, "stripe", {"secret_key": bad})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["kind"] == "invalid_request" and err["field"] == "credentials.secret_key"
    assert bad not in r.text

    r = connect(client, tenant, "twilio", {"account_sid": "AC" + "0" * 32})
    assert r.status_code == 422 and r.json()["error"]["field"] == "credentials.auth_token"

    # An unknown field is refused without its name repeated (a key pasted as a name).
    r = connect(client, tenant, "twilio", {**twilio_credentials(), "sk_live_extra": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "credentials"
    assert "sk_live_extra" not in r.text and "it takes: account_sid" in r.text

    r = client.post("/api/connections", json={"credentials": {}}, headers=tenant.h("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "integration"


def test_unknown_planned_and_oauth_integrations_are_refused(client, tenant):
    r = connect(client, tenant, "nosuchvendor", {})
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"
    r = connect(client, tenant, "tiktok", {})
    assert r.status_code == 409 and r.json()["error"]["kind"] == "not_available"
    r = connect(client, tenant, "google_calendar", {})
    assert r.status_code in (409, 422)
    assert "OAuth" in r.json()["error"]["message"] or r.json()["error"]["kind"] == "not_available"


def test_duplicate_connection_and_bad_base_url(client, tenant):
    assert connect(client, tenant).status_code == 201
    r = connect(client, tenant)
    assert r.status_code == 409 and "PATCH" in r.json()["error"]["message"]
    r = connect(client, tenant, "stripe", stripe_credentials(), base_url="ftp://x")
    assert r.status_code == 422 and r.json()["error"]["field"] == "base_url"
    r = connect(
        client, tenant, "stripe", stripe_credentials(), base_url="http://user:pw@127.0.0.1/"
    )
    assert r.status_code == 422 and "pw" not in r.json()["error"]["message"]


def test_usage_counts_are_summed_and_written_together(client, hub_runtime, other_tenant):
    from hub.connections.usage import UsageMeter
    from hub.db.base import utcnow

    r = connect(client, other_tenant, integration="twilio")
    if r.status_code == 409:  # other_tenant is shared by several modules
        listed = client.get("/api/connections", headers=other_tenant.h("admin")).json()["data"]
        conn = next(c for c in listed if c["integration"] == "twilio")
    else:
        assert r.status_code == 201, r.text
        conn = r.json()
    before = client.get(f"/api/connections/{conn['id']}", headers=other_tenant.h("admin")).json()
    meter = UsageMeter(flush_s=3600)
    first, last = utcnow(), utcnow()
    meter.note(conn["id"], first, by_agent=True)
    meter.note(conn["id"], last, by_agent=True)
    meter.note(conn["id"], last, by_agent=False)  # an admin's call: used, not by an agent
    assert meter.pending and not meter.due()
    assert hub_runtime.db.writer.run_sync(meter.flush) == 1  # one row, one statement
    assert not meter.pending
    after = client.get(f"/api/connections/{conn['id']}", headers=other_tenant.h("admin")).json()
    assert after["times_used_by_agent"] == before["times_used_by_agent"] + 2
    assert after["last_agent_use_at"] is not None and after["last_used_at"] is not None
    assert hub_runtime.db.writer.run_sync(meter.flush) == 0  # nothing left to write


def test_a_save_with_no_n8n_is_stored_and_says_the_test_could_not_run(client, tenant):
    # The unit-level app has no n8n: Save & Test cannot run, the save must still succeed.
    r = connect(client, tenant, "stripe", stripe_credentials())
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "connected"  # unchanged: nothing was learnt about the key
    assert got["test"]["tested"] is False, got["test"]
    assert "could not run" in got["test"]["message"], got["test"]
    r = client.patch(
        f"/api/connections/{got['id']}",
        json={"credentials": stripe_credentials()},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200 and r.json()["test"]["tested"] is False, r.text
    r = client.patch(
        f"/api/connections/{got['id']}", json={"account_label": "Shop"}, headers=tenant.h("admin")
    )
    assert r.status_code == 200 and r.json()["test"] is None, r.text
