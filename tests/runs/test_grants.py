"""Edge grants: single use, short-lived, bound to one run and connection; refusals audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from hub.db.base import utcnow
from hub.runs import grants
from hub.runs.models import Grant, Run
from tests.helpers import stripe_credentials, twilio_credentials


def setup_grant(client, hub_runtime, tenant, integration="twilio", creds=None):
    """A connection, a run and a fresh grant for them."""
    conn = client.post(
        "/api/connections",
        headers=tenant.h("admin"),
        json={"integration": integration, "credentials": creds or twilio_credentials()},
    ).json()
    with hub_runtime.db.session() as s:
        run = Run(
            tenant_id=tenant.id,
            caller="test",
            tool="send_sms",
            args={},
            args_hash="0" * 64,
            status="sent",
        )
        s.add(run)
        s.flush()
        raw = grants.mint(s, tenant.id, run.id, conn["id"])
        return conn, run.id, raw


def audit_actions(client, tenant):
    return [
        (a["action"], a["error_message"])
        for a in client.get(
            "/api/audit", params={"action": "grant."}, headers=tenant.h("admin")
        ).json()["data"]
    ]


def test_grant_resolves_once(client, hub_runtime, tenant):
    creds = twilio_credentials()
    _, run_id, raw = setup_grant(client, hub_runtime, tenant, creds=creds)
    r = client.post(
        "/edge/credentials", json={"grant": raw, "run_id": run_id, "integration": "twilio"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["credentials"] == {"auth_token": creds["auth_token"]}
    assert body["connection"]["config"]["account_sid"] == creds["account_sid"]
    assert body["connection"]["base_url"] == "https://api.twilio.com"
    again = client.post("/edge/credentials", json={"grant": raw, "run_id": run_id})
    assert again.status_code == 403 and "replayed" in again.json()["error"]["message"]
    assert creds["auth_token"] not in again.text
    assert ("grant.refused", "replayed") in audit_actions(client, tenant)
    with hub_runtime.db.session() as s:
        stored = " ".join(g.token_hash for g in s.query(Grant).all())
    assert raw not in stored


def test_expired_grant_is_refused(client, hub_runtime, tenant):
    _, run_id, raw = setup_grant(client, hub_runtime, tenant)
    with hub_runtime.db.session() as s:
        s.execute(
            update(Grant)
            .where(Grant.run_id == run_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = client.post("/edge/credentials", json={"grant": raw, "run_id": run_id})
    assert r.status_code == 403 and "expired" in r.json()["error"]["message"]
    assert ("grant.refused", "expired") in audit_actions(client, tenant)


def test_grant_for_another_connection_or_run_is_refused(client, hub_runtime, tenant):
    _, run_id, raw = setup_grant(client, hub_runtime, tenant, "stripe", stripe_credentials())
    r = client.post(
        "/edge/credentials", json={"grant": raw, "run_id": run_id, "integration": "twilio"}
    )
    assert r.status_code == 403 and "another connection" in r.json()["error"]["message"]
    _, _, raw2 = setup_grant(client, hub_runtime, tenant, "twilio")
    r = client.post("/edge/credentials", json={"grant": raw2, "run_id": run_id})
    assert r.status_code == 403 and "run mismatch" in r.json()["error"]["message"]
    refused = audit_actions(client, tenant)
    assert ("grant.refused", "integration_mismatch") in refused
    assert ("grant.refused", "run_mismatch") in refused


def test_unknown_grant_and_grant_lifetime(client, hub_runtime, tenant):
    r = client.post("/edge/credentials", json={"grant": "gr_" + "x" * 40})
    assert r.status_code == 401
    _, run_id, _ = setup_grant(client, hub_runtime, tenant)
    with hub_runtime.db.session() as s:
        g = s.query(Grant).filter(Grant.run_id == run_id).one()
        assert timedelta(0) < g.expires_at - utcnow() <= timedelta(seconds=60)
