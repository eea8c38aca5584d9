"""Step grants and POST /edge/steps (hub.runs.steps): a multi-step workflow records each
finished step once, for its own run only, while its dispatch is in flight; results are
scrubbed of the connection's secrets and capped; every refusal is audited. Through the app
over HTTP, on SQLite and PostgreSQL (the workflow side runs in tests/e2e/test_steps.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hub.db.base import utcnow
from hub.runs import grants, steps
from hub.runs.models import Run, RunStep, StepGrant
from hub.runs.pausing import expire_paused
from hub.runs.scrub import REDACTED
from tests.helpers import stripe_credentials

_CONNECTED: dict[str, tuple[dict, dict]] = {}


def setup_run(client, hub_runtime, tenant, *, tool="send_invoice"):
    """The tenant's Stripe connection (made once), a send_invoice run in flight, and the
    run's credential and step grants."""
    if tenant.id not in _CONNECTED:
        creds = stripe_credentials()
        conn = client.post(
            "/api/connections",
            headers=tenant.h("admin"),
            json={"integration": "stripe", "credentials": creds},
        )
        assert conn.status_code == 201, conn.text
        _CONNECTED[tenant.id] = (conn.json(), creds)
    conn, creds = _CONNECTED[tenant.id]
    with hub_runtime.db.session() as s:
        run = Run(
            tenant_id=tenant.id,
            caller="test",
            tool=tool,
            connection_id=conn["id"],
            args={},
            args_hash="0" * 64,
            status="sent",
        )
        s.add(run)
        s.flush()
        grant = grants.mint(s, tenant.id, run.id, conn["id"])
        step_grant = steps.mint(s, tenant.id, run.id, conn["id"])
        return run.id, grant, step_grant, creds


def post_step(client, grant, run_id, step="invoice", result=None):
    body = {"grant": grant, "run_id": run_id, "step": step, "result": result or {"id": "in_1"}}
    return client.post("/edge/steps", json=body)


def refusals(client, tenant) -> list[str | None]:
    rows = client.get("/api/audit", params={"action": "step."}, headers=tenant.h("admin"))
    return [a["error_message"] for a in rows.json()["data"] if a["action"] == "step.refused"]


def test_a_step_is_recorded_once_scrubbed_and_shown_to_admins(client, hub_runtime, tenant):
    run_id, grant, step_grant, creds = setup_run(client, hub_runtime, tenant)
    key = creds["secret_key"]
    # The workflow redeemed its grant in this process: the scrubber knows the key already.
    assert (
        client.post("/edge/credentials", json={"grant": grant, "run_id": run_id}).status_code == 200
    )
    r = post_step(client, step_grant, run_id, result={"id": "in_1", "echo": f"Bearer {key}"})
    assert r.status_code == 201, r.text
    assert r.json() == {"step": "invoice", "result": {"id": "in_1", "echo": f"Bearer {REDACTED}"}}
    assert key not in r.text
    again = post_step(client, step_grant, run_id, result={"id": "in_2"})
    assert again.status_code == 409 and again.json()["error"]["kind"] == "conflict"
    assert "recorded already" in again.json()["error"]["message"]
    with hub_runtime.db.session() as s:
        stored = s.scalars(select(RunStep).where(RunStep.run_id == run_id)).all()
        assert [(x.step, x.result["id"]) for x in stored] == [("invoice", "in_1")]
        assert key not in str(stored[0].result)
        hashes = " ".join(g.token_hash for g in s.scalars(select(StepGrant)))
    assert step_grant not in hashes  # stored hashed only
    assert refusals(client, tenant) == ["already_recorded"]
    admin = client.get(f"/api/runs/{run_id}", headers=tenant.h("admin")).json()
    assert [x["step"] for x in admin["steps"]] == ["invoice"]
    assert admin["steps"][0]["result"]["echo"] == f"Bearer {REDACTED}"
    ops = client.get(f"/api/runs/{run_id}", headers=tenant.h("ops")).json()
    assert [x["step"] for x in ops["steps"]] == ["invoice"]
    agent = client.get(f"/api/runs/{run_id}", headers=tenant.h("agent")).json()
    assert agent["id"] == run_id and "steps" not in agent
    listed = client.get("/api/runs", headers=tenant.h("admin")).json()["data"]
    assert all("steps" not in x for x in listed)


def test_a_step_recorded_elsewhere_is_scrubbed_with_the_vaults_values(client, hub_runtime, tenant):
    # No redemption here (another replica's): the secrets are read from the vault again.
    run_id, _, step_grant, creds = setup_run(client, hub_runtime, tenant)
    key = creds["secret_key"]
    r = post_step(client, step_grant, run_id, step="customer", result={"note": [key, "ok"]})
    assert r.status_code == 201, r.text
    assert r.json()["result"] == {"note": [REDACTED, "ok"]}
    # The step grant itself is scrubbed from a result that echoes it.
    r = post_step(client, step_grant, run_id, step="items", result={"body": step_grant})
    assert r.status_code == 201 and step_grant not in r.text


def test_a_wrong_step_grant_is_unknown(client, hub_runtime, tenant):
    run_id, grant, _, _ = setup_run(client, hub_runtime, tenant)
    r = post_step(client, "sg_" + "x" * 43, run_id)
    assert r.status_code == 401 and r.json()["error"] == {
        "kind": "unauthenticated",
        "message": "Unknown step grant.",
    }
    # The credential grant is no step grant, and a step grant is no credential grant.
    assert post_step(client, grant, run_id).status_code == 401
    _, _, step_grant, _ = setup_run(client, hub_runtime, tenant)
    assert client.post("/edge/credentials", json={"grant": step_grant}).status_code == 401


def test_a_step_grant_of_another_run_is_refused(client, hub_runtime, tenant):
    run_a, _, _, _ = setup_run(client, hub_runtime, tenant)
    _, _, grant_b, _ = setup_run(client, hub_runtime, tenant)
    r = post_step(client, grant_b, run_a)
    assert r.status_code == 403 and "run mismatch" in r.json()["error"]["message"]
    assert refusals(client, tenant) == ["run_mismatch"]
    with hub_runtime.db.session() as s:
        assert s.scalars(select(RunStep).where(RunStep.run_id == run_a)).all() == []


def test_a_used_step_grant_is_refused_once_its_dispatch_is_over(client, hub_runtime, tenant):
    run_id, _, step_grant, _ = setup_run(client, hub_runtime, tenant)
    assert post_step(client, step_grant, run_id, step="customer").status_code == 201
    with hub_runtime.db.session() as s:
        steps.close(s, step_grant, utcnow())  # what finish() does when the call is over
        # The next dispatch of the same run (a resume) gets a grant of its own.
        fresh = steps.mint(s, tenant.id, run_id, s.get(Run, run_id).connection_id)
    r = post_step(client, step_grant, run_id, step="invoice")
    assert r.status_code == 403 and "expired" in r.json()["error"]["message"]
    assert post_step(client, fresh, run_id, step="invoice").status_code == 201
    with hub_runtime.db.session() as s:
        g = s.scalar(select(StepGrant).where(StepGrant.token_hash == steps._hash(fresh)))
        assert timedelta(0) < g.expires_at - utcnow() <= steps.STEP_GRANT_TTL
        s.execute(update(StepGrant).where(StepGrant.id == g.id).values(expires_at=utcnow()))
    assert post_step(client, fresh, run_id, step="items").status_code == 403
    assert refusals(client, tenant) == ["expired", "expired"]


def test_undeclared_steps_and_oversized_results_are_refused_with_what_to_do(
    client, hub_runtime, tenant
):
    run_id, _, step_grant, _ = setup_run(client, hub_runtime, tenant)
    r = post_step(client, step_grant, run_id, step="refund")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == "step"
    assert err["allowed"] == ["customer", "invoice", "items", "finalize", "send"]
    big = {"blob": "x" * steps.STEP_RESULT_MAX}
    r = post_step(client, step_grant, run_id, step="invoice", result=big)
    assert r.status_code == 413 and r.json()["error"]["kind"] == "too_large"
    assert f"at most {steps.STEP_RESULT_MAX} bytes" in r.json()["error"]["message"]
    assert "record only the ids" in r.json()["error"]["message"]
    assert post_step(client, step_grant, run_id, step="invoice").status_code == 201
    assert sorted(refusals(client, tenant)) == ["too_large", "unknown_step"]
    bad = client.post("/edge/steps", json={"grant": step_grant, "run_id": run_id, "step": "X"})
    assert bad.status_code == 422 and bad.json()["error"]["kind"] == "invalid_request"


def test_a_single_step_tool_has_no_steps(client, hub_runtime, tenant):
    run_id, _, step_grant, _ = setup_run(client, hub_runtime, tenant, tool="charge_card")
    r = post_step(client, step_grant, run_id, step="invoice")
    assert r.status_code == 422 and r.json()["error"]["allowed"] == []
    assert "steps" not in client.get(f"/api/runs/{run_id}", headers=tenant.h("admin")).json()


def test_an_expired_paused_run_names_the_steps_done_at_the_vendor(client, hub_runtime, tenant):
    run_id, _, step_grant, _ = setup_run(client, hub_runtime, tenant)
    plain_id, _, _, _ = setup_run(client, hub_runtime, tenant)
    for step in ("customer", "invoice"):
        assert post_step(client, step_grant, run_id, step=step).status_code == 201
    with hub_runtime.db.session() as s:
        s.execute(
            update(Run)
            .where(Run.id.in_((run_id, plain_id)))
            .values(status="paused", paused_until=utcnow() - timedelta(seconds=1))
        )
        assert expire_paused(s) >= 2
        done, plain = s.get(Run, run_id), s.get(Run, plain_id)
        assert done.status == plain.status == "expired"
        assert "after the steps customer, invoice had been done" in done.error_message
        assert "Check the vendor" in done.error_message
        assert "nothing was sent" in plain.error_message
