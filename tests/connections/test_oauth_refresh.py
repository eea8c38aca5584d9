"""Refresh without surprises (SECURITY 16-18): single flight across callers and processes,
rotation, no refresh token in the answer, invalid_grant re-read then error."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from hub.connections.models import Connection, ConnectionEvent, Notification
from hub.connections.oauth.refresh import Refresher
from hub.core.errors import HubError
from hub.db.engine import Database
from hub.runs import grants
from hub.runs.models import Run
from tests.connections.conftest import HUB_CALLBACK
from tests.connections.oauth_kit import (
    client_of,
    connect_via_flow,
    expire_now,
    store_tokens,
    stored_tokens,
)


def _grants(rt, tenant_id: str, connection_id: str, n: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = []
    with rt.db.session() as s:
        for _ in range(n):
            run = Run(
                tenant_id=tenant_id,
                caller="test",
                tool="list_calendar_events",
                args={},
                args_hash="0" * 64,
                status="sent",
                connection_id=connection_id,
            )
            s.add(run)
            s.flush()
            out.append((run.id, grants.mint(s, tenant_id, run.id, connection_id)))
    return out


async def _redeem_all(app, pairs):  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        return await asyncio.gather(
            *(
                c.post("/edge/credentials", json={"grant": g, "run_id": r, "integration": None})
                for r, g in pairs
            )
        )


def test_fifty_redemptions_of_an_expired_token_make_one_token_call(
    client, hub_runtime, tenant, oauth_apps
):
    conn_id = connect_via_flow(client, tenant, "google_calendar", "a@example.test", HUB_CALLBACK)
    old = expire_now(hub_runtime, tenant.id, conn_id)
    pairs = _grants(hub_runtime, tenant.id, conn_id, 50)
    before = oauth_apps.counts()
    answers = asyncio.run(_redeem_all(client.app, pairs))
    after = oauth_apps.counts()
    assert [a.status_code for a in answers] == [200] * 50
    tokens = {a.json()["credentials"]["access_token"] for a in answers}
    assert after["refresh"] - before["refresh"] == 1
    assert after["token"] - before["token"] == 1
    assert len(tokens) == 1 and old["access_token"] not in tokens
    # The workflow gets the access token only, never the refresh token.
    assert all("refresh_token" not in a.json()["credentials"] for a in answers)
    assert all(old["refresh_token"] not in a.text for a in answers)
    got = oauth_apps.introspect(tokens.pop(), client_of(oauth_apps, "google_calendar"))
    assert got["active"] is True


def test_a_fresh_token_is_handed_out_without_a_token_call(client, hub_runtime, tenant, oauth_apps):
    conn_id = connect_via_flow(client, tenant, "google_calendar", "b@example.test", HUB_CALLBACK)
    pairs = _grants(hub_runtime, tenant.id, conn_id, 5)
    before = oauth_apps.counts()["token"]
    answers = asyncio.run(_redeem_all(client.app, pairs))
    assert [a.status_code for a in answers] == [200] * 5
    assert oauth_apps.counts()["token"] == before


def test_rotated_refresh_token_replaces_the_old_one(client, hub_runtime, tenant, oauth_apps):
    conn_id = connect_via_flow(client, tenant, "outlook_calendar", "c@example.test", HUB_CALLBACK)
    first = stored_tokens(hub_runtime, tenant.id, conn_id)
    got = hub_runtime.calls.refresher.refresh_sync(tenant.id, conn_id, force=True)
    stored = stored_tokens(hub_runtime, tenant.id, conn_id)
    assert got["refresh_token"] != first["refresh_token"]  # Microsoft rotates
    assert stored["refresh_token"] == got["refresh_token"]
    assert stored["access_token"] != first["access_token"]
    # And the newest one works: the grant was not revoked by a reused token.
    again = hub_runtime.calls.refresher.refresh_sync(tenant.id, conn_id, force=True)
    assert again["refresh_token"] not in (first["refresh_token"], got["refresh_token"])


def test_no_refresh_token_in_the_answer_keeps_the_old_one(client, hub_runtime, tenant, oauth_apps):
    conn_id = connect_via_flow(client, tenant, "google_calendar", "d@example.test", HUB_CALLBACK)
    first = stored_tokens(hub_runtime, tenant.id, conn_id)
    got = hub_runtime.calls.refresher.refresh_sync(tenant.id, conn_id, force=True)
    assert got["access_token"] != first["access_token"]
    assert got["refresh_token"] == first["refresh_token"]  # Google answered none: kept
    assert stored_tokens(hub_runtime, tenant.id, conn_id)["refresh_token"] == first["refresh_token"]


def test_rotation_race_between_two_processes(client, hub_runtime, tenant, oauth_apps):
    """Two hub processes (own engines, own locks) refresh one rotating connection at once:
    one token call; the loser never spends the dead refresh token."""
    conn_id = connect_via_flow(client, tenant, "outlook_calendar", "e@example.test", HUB_CALLBACK)
    old = expire_now(hub_runtime, tenant.id, conn_id)
    dbs = [Database(hub_runtime.db.url) for _ in range(2)]
    refreshers = [Refresher(db, hub_runtime.vault) for db in dbs]
    results: list[dict[str, str] | BaseException] = []
    oauth_apps.delay_next_token(400)  # a slow provider: the race window is wide open
    before = oauth_apps.counts()

    def run(r: Refresher) -> None:
        try:
            results.append(asyncio.run(r.current(tenant.id, conn_id)))
        except BaseException as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in refreshers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for r, db in zip(refreshers, dbs, strict=True):
        r.close()
        db.dispose()
    assert all(isinstance(x, dict) for x in results), results
    assert oauth_apps.counts()["refresh"] - before["refresh"] == 1
    tokens = {x["access_token"] for x in results if isinstance(x, dict)}
    assert len(tokens) == 1 and old["access_token"] not in tokens
    # The connection still refreshes: nobody reused the rotated-away token (which would have
    # made the provider revoke the whole grant).
    again = hub_runtime.calls.refresher.refresh_sync(tenant.id, conn_id, force=True)
    assert again["access_token"] not in tokens


def _revoke(server, integration: str, token: str) -> None:  # type: ignore[no-untyped-def]
    c = client_of(server, integration)
    r = httpx.post(
        server.revoke_url,
        data={"token": token, "token_type_hint": "refresh_token"},
        auth=(c.client_id, c.client_secret),
    )
    assert r.status_code == 200


def test_invalid_grant_marks_error_once_with_one_alert(client, hub_runtime, tenant, oauth_apps):
    conn_id = connect_via_flow(client, tenant, "google_calendar", "f@example.test", HUB_CALLBACK)
    _revoke(
        oauth_apps,
        "google_calendar",
        stored_tokens(hub_runtime, tenant.id, conn_id)["refresh_token"],
    )
    for _ in range(2):
        with pytest.raises(HubError) as e:
            hub_runtime.calls.refresher.refresh_sync(tenant.id, conn_id, force=True)
        assert e.value.kind == "not_connected" and "invalid_grant" in e.value.message
    with hub_runtime.db.session() as s:
        conn = s.get(Connection, conn_id)
        assert conn is not None and conn.status == "error" and conn.last_error_kind == "auth"
        moves = [
            (ev.from_status, ev.to_status)
            for ev in s.scalars(
                select(ConnectionEvent)
                .where(ConnectionEvent.connection_id == conn_id)
                .order_by(ConnectionEvent.created_at)
            )
        ]
        alerts = list(s.scalars(select(Notification).where(Notification.connection_id == conn_id)))
    assert moves == [("pending_setup", "connected"), ("connected", "error")]
    assert len(alerts) == 1 and alerts[0].email_status == "pending"
    listed = client.get("/api/notifications?unread=true", headers=tenant.h()).json()
    assert [n["id"] for n in listed] == [alerts[0].id]
    assert (
        client.post(f"/api/notifications/{alerts[0].id}/read", headers=tenant.h()).status_code
        == 204
    )
    assert client.get("/api/notifications?unread=true", headers=tenant.h()).json() == []
    health = client.get(f"/api/connections/{conn_id}/health", headers=tenant.h()).json()
    assert [h["to_status"] for h in health] == ["connected", "error"]


# PostgreSQL only: on SQLite the refresher holds the database write lock, so no other worker
# can replace the credential mid-refresh; the window this test opens does not exist there.
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_invalid_grant_rereads_a_credential_another_worker_rotated(
    backend, client, hub_runtime, tenant, other_tenant, oauth_apps
):
    conn_id = connect_via_flow(client, tenant, "google_calendar", "g@example.test", HUB_CALLBACK)
    spare = connect_via_flow(
        client, other_tenant, "google_calendar", "g@example.test", HUB_CALLBACK
    )
    stale = stored_tokens(hub_runtime, tenant.id, conn_id)
    newer = stored_tokens(hub_runtime, other_tenant.id, spare)  # same client: valid here too
    _revoke(oauth_apps, "google_calendar", stale["refresh_token"])
    oauth_apps.delay_next_token(800)
    before = oauth_apps.counts()["refresh"]
    out: list[object] = []
    t = threading.Thread(
        target=lambda: out.append(
            _try(lambda: hub_runtime.calls.refresher.refresh_sync(tenant.id, conn_id, force=True))
        )
    )
    t.start()
    time.sleep(0.3)  # the refresher has read the stale token and is waiting on the provider
    # Another worker rotated meanwhile (it writes the credential, not the locked row).
    store_tokens(hub_runtime, tenant.id, conn_id, newer, vault_only=True)
    t.join(30)
    assert isinstance(out[0], dict), out
    assert out[0]["access_token"] == newer["access_token"]
    assert oauth_apps.counts()["refresh"] - before == 0  # the refused call was not a success
    with hub_runtime.db.session() as s:
        conn = s.get(Connection, conn_id)
        assert conn is not None and conn.status == "connected"


def _try(fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except BaseException as exc:  # handed to the asserting thread
        return exc


def test_scheduled_refresh_before_expiry(client, hub_runtime, tenant, oauth_apps):
    from hub.connections.oauth.keepalive import refresh_due

    soon = connect_via_flow(client, tenant, "google_calendar", "h@example.test", HUB_CALLBACK)
    later = connect_via_flow(client, tenant, "outlook_calendar", "h@example.test", HUB_CALLBACK)
    old_soon = expire_now(hub_runtime, tenant.id, soon, in_s=120)  # inside the 300 s lead
    old_later = expire_now(hub_runtime, tenant.id, later, in_s=3000)
    refresh_due(hub_runtime.db, hub_runtime.calls.refresher)
    assert stored_tokens(hub_runtime, tenant.id, soon)["access_token"] != old_soon["access_token"]
    assert stored_tokens(hub_runtime, tenant.id, later) == old_later
    fresh = stored_tokens(hub_runtime, tenant.id, soon)
    refresh_due(hub_runtime.db, hub_runtime.calls.refresher)  # nothing is due here any more
    assert stored_tokens(hub_runtime, tenant.id, soon) == fresh
    assert stored_tokens(hub_runtime, tenant.id, later) == old_later


def test_single_flight_across_two_hub_processes(tmp_path, client, hub_runtime, tenant, oauth_apps):
    """SECURITY 16 across processes: two hub processes (own interpreters, engines and locks)
    on the same database each make 25 concurrent redemptions of one expired token of a
    provider that rotates: one token call in all, and all 50 get the same new token."""
    conn_id = connect_via_flow(client, tenant, "outlook_calendar", "h@example.test", HUB_CALLBACK)
    old = expire_now(hub_runtime, tenant.id, conn_id)
    st = hub_runtime.settings
    go = tmp_path / "go"
    procs = []
    for i in range(2):
        cfg = {
            "settings": {
                "data_dir": str(tmp_path / f"proc{i}"),
                "database_url": st.database_url,
                "master_key": st.master_key,
                "mode": "local",
                "log_format": "json",
                "scheduler_enabled": False,
                "outbound_allow": st.outbound_allow,
            },
            "tenant": tenant.id,
            "connection": conn_id,
            "n": 25,
            "ready": str(tmp_path / f"ready{i}"),
            "go": str(go),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.connections.refresh_process", json.dumps(cfg)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
            assert time.monotonic() < deadline, "the hub processes never got ready"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.02)
        oauth_apps.delay_next_token(400)  # a slow provider: the race window is wide open
        before = oauth_apps.counts()
        go.touch()
        outs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    digests = [d for out, _ in outs for d in json.loads(out.strip().splitlines()[-1])]
    assert len(digests) == 50
    assert oauth_apps.counts()["refresh"] - before["refresh"] == 1
    stored = stored_tokens(hub_runtime, tenant.id, conn_id)
    new = hashlib.sha256(stored["access_token"].encode()).hexdigest()
    assert set(digests) == {new}
    assert new != hashlib.sha256(old["access_token"].encode()).hexdigest()
    # No token in what the processes printed or logged.
    for out, err in outs:
        for secret in (old["access_token"], old["refresh_token"], stored["access_token"]):
            assert secret not in out + err
