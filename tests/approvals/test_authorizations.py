"""The authorization queue over REST on an in-process hub without deployed
workflows: queueing, visibility, decisions, expiry, idempotency, overrides. The end-to-end
approval through n8n is in test_mcp.py."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hub.accounts import service as accounts
from hub.core.calls import args_fingerprint
from hub.db.base import utcnow
from hub.permissions.models import Authorization
from hub.runs.models import Run
from tests.helpers import stripe_credentials


def call(client, tenant, tool, args, kind="agent", token=None, **extra):
    headers = {"Authorization": f"Bearer {token}"} if token else tenant.h(kind)
    return client.post(f"/api/tools/{tool}/call", json={"args": args, **extra}, headers=headers)


def charge(amount=80000, customer="cus_1"):
    return {
        "amount": amount,
        "currency": "USD",
        "customer_id": customer,
        "payment_method_id": "pm_1",
    }


WHY = {"reasoning": "Customer agreed to the quote."}


def with_stripe(client, tenant):
    r = client.post(
        "/api/connections",
        headers=tenant.h("admin"),
        json={"integration": "stripe", "credentials": stripe_credentials()},
    )
    assert r.status_code == 201, r.text


def second_agent(rt, tenant) -> str:
    with rt.db.session() as s:
        return accounts.create_token(s, tenant.id, "agent", "other agent")[1]


def test_a_call_over_the_threshold_is_queued_not_sent(client, hub_runtime, tenant):
    with_stripe(client, tenant)
    r = call(client, tenant, "charge_card", charge(), **WHY)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "authorization_required" and body["run_id"] is None
    assert body["queue_id"].startswith("aut_")
    assert "over this business's limit of 50000" in body["reason"]
    assert "nothing was sent" in body["message"]
    with hub_runtime.db.session() as s:
        assert s.scalars(select(Run).where(Run.tenant_id == tenant.id)).all() == []
        auth = s.get(Authorization, body["queue_id"])
        assert auth.status == "pending" and auth.provider == "stripe"
        assert auth.args_hash == args_fingerprint("charge_card", charge())
        assert auth.expires_at - auth.created_at == timedelta(hours=24)
    # Below the threshold the tool's own level applies (and fails later: nothing deployed).
    r = call(client, tenant, "charge_card", charge(1000), **WHY)
    assert r.status_code == 409 and "hub workflows deploy" in r.json()["error"]["message"]


def test_the_same_pending_call_is_one_request(client, tenant):
    with_stripe(client, tenant)
    first = call(client, tenant, "charge_card", charge(), **WHY).json()["queue_id"]
    assert call(client, tenant, "charge_card", charge(), **WHY).json()["queue_id"] == first
    other = call(client, tenant, "charge_card", charge(90000), **WHY).json()["queue_id"]
    assert other != first
    listed = client.get("/api/authorizations", headers=tenant.h("admin")).json()
    assert listed["pending"] == 2 and {a["id"] for a in listed["data"]} == {first, other}


def test_idempotency_key_binds_one_call(client, tenant):
    with_stripe(client, tenant)
    r = call(client, tenant, "charge_card", charge(), idempotency_key="k1", **WHY)
    queue_id = r.json()["queue_id"]
    again = call(client, tenant, "charge_card", charge(), idempotency_key="k1", **WHY)
    assert again.status_code == 202 and again.json()["queue_id"] == queue_id
    other = call(client, tenant, "charge_card", charge(85000), idempotency_key="k1", **WHY)
    assert other.status_code == 422 and other.json()["error"]["kind"] == "idempotency_mismatch"


def test_a_key_clash_with_another_agents_queued_call_names_nothing_of_it(
    client, hub_runtime, tenant
):
    with_stripe(client, tenant)
    first = call(client, tenant, "charge_card", charge(), idempotency_key="shared", **WHY)
    queue_id = first.json()["queue_id"]
    other_agent = second_agent(hub_runtime, tenant)
    clash = call(
        client, tenant, "charge_card", charge(), token=other_agent, idempotency_key="shared", **WHY
    )
    assert clash.status_code == 422 and clash.json()["error"]["kind"] == "idempotency_mismatch"
    assert queue_id not in clash.text and "shared" not in clash.text
    # The agent who queued it still gets its own queue id back.
    again = call(client, tenant, "charge_card", charge(85000), idempotency_key="shared", **WHY)
    assert again.status_code == 422 and again.json()["error"]["queue_id"] == queue_id


def test_agents_see_only_their_own_requests(client, hub_runtime, tenant, other_tenant):
    with_stripe(client, tenant)
    queue_id = call(client, tenant, "charge_card", charge(), **WHY).json()["queue_id"]
    mine = client.get("/api/authorizations", headers=tenant.h("agent")).json()["data"]
    assert [a["id"] for a in mine] == [queue_id] and mine[0]["args"] == charge()
    assert (
        client.get(f"/api/authorizations/{queue_id}", headers=tenant.h("agent")).status_code == 200
    )
    other = {"Authorization": f"Bearer {second_agent(hub_runtime, tenant)}"}
    assert client.get("/api/authorizations", headers=other).json()["data"] == []
    assert client.get(f"/api/authorizations/{queue_id}", headers=other).status_code == 404
    for kind in ("admin", "ops"):
        listed = client.get("/api/authorizations", headers=tenant.h(kind)).json()["data"]
        assert [a["id"] for a in listed] == [queue_id]
    b = other_tenant
    assert client.get("/api/authorizations", headers=b.h("admin")).json()["data"] == []
    assert client.get(f"/api/authorizations/{queue_id}", headers=b.h("admin")).status_code == 404
    r = client.post(
        f"/api/authorizations/{queue_id}", json={"decision": "authorized"}, headers=b.h("admin")
    )
    assert r.status_code == 404
    bad = client.get("/api/authorizations?status=maybe", headers=tenant.h("admin"))
    assert bad.status_code == 422


def test_only_admins_decide_and_only_once(client, hub_runtime, tenant):
    with_stripe(client, tenant)
    queue_id = call(client, tenant, "charge_card", charge(), idempotency_key="d1", **WHY).json()[
        "queue_id"
    ]
    url = f"/api/authorizations/{queue_id}"
    for kind in ("agent", "ops"):
        assert (
            client.post(url, json={"decision": "authorized"}, headers=tenant.h(kind)).status_code
            == 403
        )
    r = client.post(url, json={"decision": "maybe"}, headers=tenant.h("admin"))
    assert r.status_code == 422
    r = client.post(url, json={}, headers=tenant.h("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "decision"
    r = client.post(
        url, json={"decision": "denied", "notes": "Not this month."}, headers=tenant.h("admin")
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "denied" and out["notes"] == "Not this month." and out["run_id"] is None
    assert out["decided_by"].startswith("token:")
    assert (
        client.post(url, json={"decision": "authorized"}, headers=tenant.h("admin")).status_code
        == 409
    )
    retry = call(client, tenant, "charge_card", charge(), idempotency_key="d1", **WHY)
    assert retry.status_code == 403
    err = retry.json()["error"]
    assert (
        err["kind"] == "denied"
        and "Not this month." in err["message"]
        and err["notes"] == "Not this month."
    )
    audit = client.get("/api/audit?action=authorization.", headers=tenant.h("admin")).json()["data"]
    denied = next(row for row in audit if row["action"] == "authorization.denied")
    assert denied["target"] == queue_id and denied["details"]["notes"] == "Not this month."
    with hub_runtime.db.session() as s:
        assert s.scalars(select(Run).where(Run.tenant_id == tenant.id)).all() == []


def test_an_undecided_request_expires(client, hub_runtime, tenant):
    with_stripe(client, tenant)
    queue_id = call(client, tenant, "charge_card", charge(), idempotency_key="e1", **WHY).json()[
        "queue_id"
    ]
    with hub_runtime.db.session() as s:
        s.execute(
            update(Authorization)
            .where(Authorization.id == queue_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    got = client.get(f"/api/authorizations/{queue_id}", headers=tenant.h("agent")).json()
    assert got["status"] == "expired" and "nothing was sent" in got["message"]
    assert client.get("/api/authorizations", headers=tenant.h("admin")).json()["data"] == []
    expired = client.get("/api/authorizations?status=expired", headers=tenant.h("admin")).json()
    assert [a["id"] for a in expired["data"]] == [queue_id]
    r = client.post(
        f"/api/authorizations/{queue_id}",
        json={"decision": "authorized"},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 409
    retry = call(client, tenant, "charge_card", charge(), idempotency_key="e1", **WHY)
    assert retry.status_code == 410 and retry.json()["error"]["kind"] == "authorization_expired"
    actions = [
        row["action"] for row in client.get("/api/audit", headers=tenant.h("admin")).json()["data"]
    ]
    assert actions.count("authorization.expired") == 1


def test_approval_refused_at_run_time_is_recorded_and_stays_usable(client, tenant):
    with_stripe(client, tenant)
    queue_id = call(client, tenant, "charge_card", charge(), idempotency_key="r1", **WHY).json()[
        "queue_id"
    ]
    r = client.post(
        f"/api/authorizations/{queue_id}",
        json={"decision": "authorized"},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200
    out = r.json()
    # This hub has no deployed workflow: the approval is recorded, nothing was sent.
    assert out["status"] == "authorized" and out["run_id"] is None
    assert (
        out["outcome"]["status"] == "failed" and out["outcome"]["error"]["kind"] == "not_connected"
    )
    # The agent's retry with its key uses the (still unused) approval; here it fails the same way.
    retry = call(client, tenant, "charge_card", charge(), idempotency_key="r1", **WHY)
    assert retry.status_code == 409 and retry.json()["error"]["kind"] == "not_connected"


def test_a_revoked_agents_approved_call_is_not_run(client, hub_runtime, tenant):
    with_stripe(client, tenant)
    queue_id = call(client, tenant, "charge_card", charge(), **WHY).json()["queue_id"]
    with hub_runtime.db.session() as s:
        for tok in accounts.list_tokens(s, tenant.id):
            if tok.kind == "agent":
                accounts.revoke_token(s, tok.id)
    r = client.post(
        f"/api/authorizations/{queue_id}",
        json={"decision": "authorized"},
        headers=tenant.h("admin"),
    )
    out = r.json()
    assert out["status"] == "authorized" and out["outcome"]["error"]["kind"] == "forbidden"
    assert "revoked" in out["outcome"]["error"]["message"]


def test_refunds_of_settled_charges_need_a_human(client, hub_runtime, tenant):
    with_stripe(client, tenant)
    with hub_runtime.db.session() as s:
        s.add(
            Run(
                tenant_id=tenant.id,
                caller="test",
                tool="charge_card",
                args={},
                args_hash="1" * 64,
                status="succeeded",
                result={
                    "payment_id": "pi_today",
                    "status": "succeeded",
                    "amount": 100,
                    "currency": "USD",
                },
                finished_at=utcnow(),
            )
        )
    today = call(client, tenant, "refund_payment", {"payment_id": "pi_today"}, **WHY)
    # Charged here an hour ago: not settled, the tool's own level (then: nothing deployed).
    assert today.status_code == 409 and today.json()["error"]["kind"] == "not_connected"
    older = call(client, tenant, "refund_payment", {"payment_id": "pi_elsewhere"}, **WHY)
    assert older.status_code == 202 and "settled" in older.json()["reason"]
    # Allow Always on an unbounded (full) refund is refused; the request stays pending.
    queue_id = older.json()["queue_id"]
    r = client.post(
        f"/api/authorizations/{queue_id}",
        json={"decision": "authorized", "upgrade_permission": True},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 422 and "Allow Once" in r.json()["error"]["message"]
    assert (
        client.get(f"/api/authorizations/{queue_id}", headers=tenant.h("admin")).json()["status"]
        == "pending"
    )


def test_allow_always_records_a_narrow_override_that_can_be_revoked(client, tenant):
    with_stripe(client, tenant)
    queue_id = call(client, tenant, "charge_card", charge(70000), **WHY).json()["queue_id"]
    r = client.post(
        f"/api/authorizations/{queue_id}",
        json={"decision": "authorized", "upgrade_permission": True},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200 and r.json()["upgrade_permission"] is True
    override_id = r.json()["override_id"]
    listed = client.get("/api/permission-overrides", headers=tenant.h("admin")).json()["data"]
    assert [o["id"] for o in listed] == [override_id]
    assert listed[0]["terms"]["provider"] == "stripe" and listed[0]["terms"]["same"] == {
        "currency": "USD"
    }
    assert client.get("/api/permission-overrides", headers=tenant.h("agent")).status_code == 403
    # Covered: passes the gate (and then meets the undeployed workflow).
    covered = call(client, tenant, "charge_card", charge(60000, "cus_9"), **WHY)
    assert covered.status_code == 409 and covered.json()["error"]["kind"] == "not_connected"
    assert (
        call(client, tenant, "charge_card", charge(60000, "cus_9")).json()["error"]["kind"]
        == "reasoning_required"
    )
    assert call(client, tenant, "charge_card", charge(70001), **WHY).status_code == 202
    r = client.delete(f"/api/permission-overrides/{override_id}", headers=tenant.h("admin"))
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert call(client, tenant, "charge_card", charge(60000, "cus_9"), **WHY).status_code == 202
    actions = {
        row["action"] for row in client.get("/api/audit", headers=tenant.h("admin")).json()["data"]
    }
    assert {
        "permission.override_created",
        "permission.override_revoked",
    } <= actions


def test_bulk_email_needs_a_human_even_for_an_unrestricted_tool(client, tenant):
    r = client.post(
        "/api/connections",
        headers=tenant.h("admin"),
        json={
            "integration": "sendgrid",
            "credentials": {"api_key": "SG." + "a" * 22 + "." + "b" * 43, "from_email": "o@x.test"},
        },
    )
    assert r.status_code == 201, r.text
    six = [f"c{i}@example.com" for i in range(6)]
    r = call(
        client, tenant, "send_email", {"to": six, "subject": "Spring offer", "text": "10% off"}
    )
    assert r.status_code == 202 and "6 items" in r.json()["reason"]
    five = call(
        client, tenant, "send_email", {"to": six[:5], "subject": "Spring offer", "text": "10% off"}
    )
    assert five.status_code == 409  # not queued: unrestricted, then the undeployed workflow


def test_an_authorization_id_covers_only_its_own_call(hub_runtime, tenant):
    from hub.accounts.service import resolve_token
    from hub.core.calls import CallRequest
    from hub.core.errors import HubError
    from hub.permissions.gate import ToolRef, gate
    from hub.runs.facts import FACTS

    with hub_runtime.db.session() as s:
        caller, _ = resolve_token(s, tenant.agent)
        auth = Authorization(
            tenant_id=tenant.id,
            token_id=caller.token_id,
            caller=caller.actor,
            tool="charge_card",
            args=charge(),
            args_hash=args_fingerprint("charge_card", charge()),
            reason="test",
            rules=["amount_over_threshold"],
            status="authorized",
            expires_at=utcnow() + timedelta(hours=1),
        )
        s.add(auth)
        s.flush()
        ref = ToolRef("charge_card", "soft_limit", [], provider=lambda: "stripe")
        for args in (charge(80001), {**charge(), "currency": "EUR"}):
            try:
                gate(
                    s,
                    caller,
                    ref,
                    CallRequest("charge_card", args, authorization_id=auth.id),
                    FACTS,
                )
            except HubError as e:
                assert e.kind == "forbidden"
            else:
                raise AssertionError("a different call used the approval")
        assert (
            gate(
                s,
                caller,
                ref,
                CallRequest("charge_card", charge(), authorization_id=auth.id),
                FACTS,
            )
            is None
        )
        try:
            gate(
                s,
                caller,
                ref,
                CallRequest("charge_card", charge(), authorization_id=auth.id),
                FACTS,
            )
        except HubError as e:
            assert e.kind == "in_progress"  # used once already
        else:
            raise AssertionError("an approval was used twice")
