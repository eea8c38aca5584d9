"""The call spine's refusals and records that need no n8n: validation, gate, routing,
idempotency in flight, reconciliation after a crash."""

from __future__ import annotations

from sqlalchemy import select

from hub.accounts.models import Tenant
from hub.runs.models import Run
from hub.runs.service import reconcile_interrupted
from tests.helpers import square_credentials, stripe_credentials, twilio_credentials


def call(client, tenant, tool, args, **extra):
    return client.post(
        f"/api/tools/{tool}/call", json={"args": args, **extra}, headers=tenant.h("agent")
    )


def test_invalid_arguments_name_the_field(client, tenant):
    r = call(client, tenant, "send_sms", {"to": "555-1234", "body": "hi"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["kind"] == "invalid_request" and err["field"] == "args.to"
    r = call(client, tenant, "send_sms", {"to": "+15551234567", "body": "hi", "colour": "red"})
    message = r.json()["error"]["message"]
    # The unknown key is not repeated (it is the caller's text); what the tool takes is.
    assert r.status_code == 422 and "colour" not in message and "it takes: body" in message
    r = call(client, tenant, "send_sms", {"body": "hi"})
    assert r.status_code == 422 and "required field(s) missing: to" in r.json()["error"]["message"]
    r = call(client, tenant, "no_such_tool", {})
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"


def test_soft_limit_needs_reasoning(client, tenant):
    r = call(
        client,
        tenant,
        "charge_card",
        {"amount": 1500, "currency": "USD", "customer_id": "cus_1", "payment_method_id": "pm_1"},
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["kind"] == "reasoning_required" and "reasoning" in err["message"]


def test_unconnected_and_undeployed_tools_are_refused(client, tenant):
    r = call(client, tenant, "send_sms", {"to": "+15551234567", "body": "hi"})
    assert r.status_code == 409 and r.json()["error"]["kind"] == "not_connected"
    assert "twilio" in r.json()["error"]["message"]
    client.post(
        "/api/connections",
        headers=tenant.h("admin"),
        json={"integration": "twilio", "credentials": twilio_credentials()},
    )
    r = call(client, tenant, "send_sms", {"to": "+15551234567", "body": "hi"})
    # This hub has no deployed workflows: say so rather than pretend.
    assert r.status_code == 409 and "hub workflows deploy" in r.json()["error"]["message"]


def test_in_flight_and_mismatched_idempotency_keys(client, hub_runtime, tenant):
    from hub.core.calls import args_fingerprint

    args = {"to": "+15551234567", "body": "hi"}
    client.post(
        "/api/connections",
        headers=tenant.h("admin"),
        json={"integration": "twilio", "credentials": twilio_credentials()},
    )
    with hub_runtime.db.session() as s:
        s.add(
            Run(
                tenant_id=tenant.id,
                caller="test",
                tool="send_sms",
                args=args,
                args_hash=args_fingerprint("send_sms", args),
                idempotency_key="k-1",
                status="sent",
            )
        )
    r = call(client, tenant, "send_sms", args, idempotency_key="k-1")
    assert r.status_code == 409 and r.json()["error"]["kind"] == "in_progress"
    r = call(client, tenant, "send_sms", {**args, "body": "other"}, idempotency_key="k-1")
    assert r.status_code == 422 and r.json()["error"]["kind"] == "idempotency_mismatch"


def test_tenant_default_provider_is_preferred(hub_runtime, tenant, client):
    from hub.registry import hot
    from hub.runs.spine import choose_provider

    for name, creds in (("stripe", stripe_credentials()), ("square", square_credentials())):
        r = client.post(
            "/api/connections",
            headers=tenant.h("admin"),
            json={"integration": name, "credentials": creds},
        )
        assert r.status_code == 201, r.text
    with hub_runtime.db.session() as s:
        tool = hot.tools(s)["charge_card"]
        assert choose_provider(s, tenant.id, tool)[0].integration_slug == "stripe"
        t = s.get(Tenant, tenant.id)
        t.settings = {"default_providers": {"charge_card": "square"}}
    with hub_runtime.db.session() as s:
        assert (
            choose_provider(s, tenant.id, hot.tools(s)["charge_card"])[0].integration_slug
            == "square"
        )


def test_interrupted_runs_become_outcome_unknown(hub_runtime, tenant):
    with hub_runtime.db.session() as s:
        run = Run(
            tenant_id=tenant.id,
            caller="test",
            tool="send_sms",
            args={},
            args_hash="1" * 64,
            status="sent",
        )
        s.add(run)
        s.flush()
        run_id = run.id
    with hub_runtime.db.session() as s:
        assert reconcile_interrupted(s) >= 1
    with hub_runtime.db.session() as s:
        run = s.scalar(select(Run).where(Run.id == run_id))
        assert run.status == "outcome_unknown" and "not resent" in run.error_message
