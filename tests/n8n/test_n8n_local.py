"""A real n8n, installed, started and provisioned by the project's own code (hub.n8n)."""

from __future__ import annotations

import base64
import contextlib
import itertools
import socket
import sqlite3
import stat
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.n8n.client import N8nClient, N8nError, N8nUnavailable
from hub.n8n.install import ensure_n8n
from hub.n8n.local import LocalN8n, N8nStartError
from tests.n8n_fixtures import free_port_pair

pytestmark = pytest.mark.n8n

HUB_SETTINGS = {
    "executionOrder": "v1",
    "saveDataSuccessExecution": "none",
    "saveDataErrorExecution": "none",
    "saveManualExecutions": False,
    "saveExecutionProgress": False,
}


def _node(name: str, type_: str, version: float, params: dict[str, Any], x: int, **extra: Any):
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "type": type_,
        "typeVersion": version,
        "position": [x, 0],
        "parameters": params,
        **extra,
    }


def _chain(*names: str) -> dict[str, Any]:
    return {
        a: {"main": [[{"node": b, "type": "main", "index": 0}]]}
        for a, b in itertools.pairwise(names)
    }


def webhook_node(path: str, **params: Any) -> dict[str, Any]:
    return _node(
        "Webhook",
        "n8n-nodes-base.webhook",
        2.1,
        {
            "httpMethod": "POST",
            "path": path,
            "responseMode": "responseNode",
            "options": {},
            **params,
        },
        0,
        webhookId=str(uuid.uuid4()),
    )


def respond_node(body_expr: str) -> dict[str, Any]:
    return _node(
        "Respond",
        "n8n-nodes-base.respondToWebhook",
        1.1,
        {"respondWith": "json", "responseBody": body_expr, "options": {}},
        600,
    )


def echo_workflow(path: str, tag: str = "v1") -> dict[str, Any]:
    """Webhook -> Code (runs in n8n's task runner) -> Respond, in the hub's response shape."""
    code = _node(
        "Build",
        "n8n-nodes-base.code",
        2,
        {
            "jsCode": (
                "const b = $input.first().json.body || {};\n"
                f"return [{{ json: {{ echo: b.message ?? null, doubled: (b.n ?? 0) * 2, "
                f"tag: '{tag}' }} }}];"
            )
        },
        300,
    )
    return {
        "name": f"test-echo-{path}",
        "nodes": [
            webhook_node(path),
            code,
            respond_node("={{ JSON.stringify({ ok: true, data: $json }) }}"),
        ],
        "connections": _chain("Webhook", "Build", "Respond"),
        "settings": HUB_SETTINGS,
        # read-only fields as in an n8n export: create_workflow must strip them
        "id": "ignoredExportId1",
        "active": True,
        "tags": [],
    }


@pytest.fixture
def deployed(local_n8n):
    """Creates + publishes workflows; deletes them after the test."""
    ids: list[str] = []

    def deploy(wf: dict[str, Any]) -> str:
        created = local_n8n.client.create_workflow(wf)
        ids.append(created["id"])
        local_n8n.client.publish(created["id"])
        return created["id"]

    yield deploy
    for wf_id in ids:
        with contextlib.suppress(N8nError):  # already deleted by the test
            local_n8n.client.delete_workflow(wf_id)


# --------------------------------------------------------------------------- start-up


def test_n8n_is_ready(local_n8n):
    with httpx.Client(timeout=5) as http:
        assert http.get(f"{local_n8n.url}/healthz/readiness").status_code == 200
        assert http.get(f"{local_n8n.url}/rest/settings").status_code == 200
    assert local_n8n.client.health()
    proc = local_n8n.process
    assert proc.is_running()
    assert proc.pid_file.read_text().strip() == str(proc.pid)
    assert proc.database_path.is_file()
    assert proc.ready_seconds is not None and proc.ready_seconds > 0


def test_n8n_files_are_its_owners_alone(local_n8n):
    # n8n keeps workflow credentials and, while a run is in flight, request bodies there.
    folder = local_n8n.process.user_folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    db_files = [
        p for p in local_n8n.database_path.parent.iterdir() if p.name.startswith("database")
    ]
    assert db_files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in db_files)


def test_install_is_idempotent_and_fast(n8n_install):
    t0 = time.perf_counter()
    again = ensure_n8n(progress=False)
    assert again == n8n_install
    assert time.perf_counter() - t0 < 5  # verify only (measured well under 1 s)
    assert (n8n_install.install_dir / ".install-ok").read_text().strip() == (
        f"n8n={n8n_install.version} node=24.21.0 linkedom=0.18.14"
    )


def test_second_instance_on_same_folder_is_reused_and_busy_port_refused(
    local_n8n, n8n_install, tmp_path
):
    proc = local_n8n.process
    same = LocalN8n(n8n_install, proc.user_folder, proc.port, encryption_key=proc.encryption_key)
    assert same.start(timeout=30) == local_n8n.url
    assert same.pid == proc.pid  # adopted, not a second process
    # without the pid file, our n8n is still recognised (by its environment)
    proc.pid_file.unlink()
    again = LocalN8n(n8n_install, proc.user_folder, proc.port, encryption_key=proc.encryption_key)
    assert again.start(timeout=30) == local_n8n.url
    assert again.pid == proc.pid
    assert proc.pid_file.read_text().strip() == str(proc.pid)
    other = LocalN8n(n8n_install, tmp_path / "other", proc.port)
    with pytest.raises(N8nStartError, match="already in use"):
        other.start(timeout=30)
    assert not other.is_running()


def test_start_failure_reports_the_log_tail_and_stale_pid_file_is_ignored(n8n_install, tmp_path):
    folder = tmp_path / "n8n-bad"
    folder.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (folder / "n8n.pid").write_text(f"{dead.pid}\n")  # stale: that process is gone
    bad = LocalN8n(
        n8n_install,
        folder,
        free_port_pair(),
        extra_env={"N8N_DISABLED_MODULES": "no-such-module"},  # n8n refuses to start
    )
    with pytest.raises(N8nStartError) as err:
        bad.start(timeout=60)
    assert "exited with code" in str(err.value)
    assert 'Unknown module "no-such-module"' in str(err.value)  # from n8n's own log
    assert not bad.is_running()
    assert not (folder / "n8n.pid").exists()


def test_api_key_lists_workflows(local_n8n):
    workflows = local_n8n.client.list_workflows()
    assert isinstance(workflows, list)
    with N8nClient(local_n8n.url, "not-a-key") as bad, pytest.raises(N8nError) as err:
        bad.list_workflows()
    assert err.value.status == 401
    assert "list_workflows" in str(err.value)


def test_unreachable_n8n_raises_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        with N8nClient(f"http://127.0.0.1:{port}", "k", timeout=2) as client:
            with pytest.raises(N8nUnavailable, match="not reachable"):
                client.list_workflows()
            assert client.health() is False


# --------------------------------------------------------------------------- workflows


def test_deployed_workflow_answers_its_webhook(local_n8n, deployed):
    path = f"hub/test/echo/{uuid.uuid4().hex[:8]}/v1"
    wf_id = deployed(echo_workflow(path))
    url = local_n8n.webhook_url(path)

    resp = httpx.post(url, json={"message": "hello", "n": 21}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"ok": True, "data": {"echo": "hello", "doubled": 42, "tag": "v1"}}

    got = local_n8n.client.get_workflow(wf_id)
    assert got["active"] is True
    assert got["id"] != "ignoredExportId1"
    assert got["settings"]["saveDataSuccessExecution"] == "none"
    assert wf_id in {w["id"] for w in local_n8n.client.list_workflows()}

    # update + publish again: the webhook serves the new version at once
    local_n8n.client.update_workflow(wf_id, echo_workflow(path, tag="v2"))
    local_n8n.client.publish(wf_id)
    resp = httpx.post(url, json={"message": "again", "n": 1}, timeout=30)
    assert resp.json()["data"]["tag"] == "v2"

    # unpublished: the production webhook is gone
    local_n8n.client.deactivate(wf_id)
    assert httpx.post(url, json={}, timeout=30).status_code == 404
    local_n8n.client.delete_workflow(wf_id)
    with pytest.raises(N8nError) as err:
        local_n8n.client.get_workflow(wf_id)
    assert err.value.status == 404


def test_header_auth_webhook(local_n8n, deployed):
    token = f"tok-{uuid.uuid4().hex}"
    cred_name = f"hub-test-{uuid.uuid4().hex[:6]}"
    cred_id = local_n8n.client.create_credential(
        cred_name, "httpHeaderAuth", {"name": "X-Hub-Token", "value": token}
    )
    wf_id = None
    try:
        path = f"hub/test/auth/{uuid.uuid4().hex[:8]}/v1"
        hook = webhook_node(path, authentication="headerAuth")
        hook["credentials"] = {"httpHeaderAuth": {"id": cred_id, "name": cred_name}}
        wf = {
            "name": f"test-auth-{path}",
            "nodes": [hook, respond_node("={{ JSON.stringify({ ok: true, data: {} }) }}")],
            "connections": _chain("Webhook", "Respond"),
            "settings": HUB_SETTINGS,
        }
        wf_id = deployed(wf)
        url = local_n8n.webhook_url(path)
        assert httpx.post(url, json={}, timeout=30).status_code == 403
        wrong = httpx.post(url, json={}, headers={"X-Hub-Token": "wrong"}, timeout=30)
        assert wrong.status_code == 403
        ok = httpx.post(url, json={}, headers={"X-Hub-Token": token}, timeout=30)
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"ok": True, "data": {}}
    finally:
        if wf_id is not None:
            local_n8n.client.delete_workflow(wf_id)
        local_n8n.client.delete_credential(cred_id)


def test_create_credential_error_never_echoes_secret(local_n8n):
    secret = f"sekrit-{uuid.uuid4().hex}"
    with pytest.raises(N8nError) as err:
        # invalid: httpHeaderAuth needs both name and value, and the type is unknown
        local_n8n.client.create_credential("bad", "noSuchCredentialType", {"value": secret})
    assert secret not in str(err.value)
    assert "create_credential" in str(err.value)


def test_workflow_reaches_the_vendor_sandbox(local_n8n, deployed, sandbox):
    """n8n's HTTP Request node talks to the sandbox exactly as it would to Twilio."""
    sandbox.clear()
    path = f"hub/test/twilio/{uuid.uuid4().hex[:8]}/v1"
    http_node = _node(
        "Twilio",
        "n8n-nodes-base.httpRequest",
        4.2,
        {
            "method": "POST",
            "url": (
                "={{ $json.body.base_url }}/2010-04-01/Accounts/{{ $json.body.account }}"
                "/Messages.json"
            ),
            "sendHeaders": True,
            "headerParameters": {
                "parameters": [
                    {"name": "Authorization", "value": "={{ 'Basic ' + $json.body.basic }}"}
                ]
            },
            "sendBody": True,
            "contentType": "form-urlencoded",
            "bodyParameters": {
                "parameters": [
                    {"name": "To", "value": "={{ $json.body.to }}"},
                    {"name": "From", "value": "={{ $json.body.from }}"},
                    {"name": "Body", "value": "={{ $json.body.text }}"},
                ]
            },
            "options": {},
        },
        300,
    )
    reply = "={{ JSON.stringify({ ok: true, data: { sid: $json.sid, status: $json.status } }) }}"
    wf = {
        "name": f"test-twilio-{path}",
        "nodes": [
            webhook_node(path),
            http_node,
            respond_node(reply),
        ],
        "connections": _chain("Webhook", "Twilio", "Respond"),
        "settings": HUB_SETTINGS,
    }
    deployed(wf)
    account = "AC" + "0" * 32
    resp = httpx.post(
        local_n8n.webhook_url(path),
        json={
            "base_url": sandbox.base_url("twilio"),
            "account": account,
            "basic": base64.b64encode(f"{account}:token".encode()).decode(),
            "to": "+15558675310",
            "from": "+15017122661",
            "text": "hello from n8n",
        },
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["sid"].startswith("SM") and data["status"]
    [rec] = sandbox.requests("twilio")
    assert rec.method == "POST" and rec.status == 201 and rec.violations == []
    assert rec.path == f"/2010-04-01/Accounts/{account}/Messages.json"
    assert rec.form == {
        "To": ["+15558675310"],
        "From": ["+15017122661"],
        "Body": ["hello from n8n"],
    }
    assert rec.headers["authorization"].startswith("Basic ")


# --------------------------------------------------------------------------- secrets at rest


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    )


def _db_files(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def test_webhook_body_canary_is_not_kept_in_n8n_database(local_n8n, deployed):
    """Security: what a webhook carried must not stay in n8n's database (rows or bytes)."""
    path = f"hub/test/canary/{uuid.uuid4().hex[:8]}/v1"
    wf = {
        "name": f"test-canary-{path}",
        "nodes": [
            webhook_node(path),
            respond_node(
                "={{ JSON.stringify({ ok: true, data: { len: $json.body.grant.length } }) }}"
            ),
        ],
        "connections": _chain("Webhook", "Respond"),
        "settings": HUB_SETTINGS,
    }
    deployed(wf)
    canary = f"CANARY-{uuid.uuid4().hex}"
    for i in range(5):
        resp = httpx.post(
            local_n8n.webhook_url(path), json={"run_id": i, "grant": canary}, timeout=30
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["len"] == len(canary)  # n8n did read the canary

    db = local_n8n.database_path
    # The byte search works: the workflow's own (unique) path is stored in the database.
    assert any(path.encode() in p.read_bytes() for p in _db_files(db))

    # n8n hard-deletes each run when it ends (just after it answered) and the preload zeroes
    # and checkpoints the freed pages; allow that a few seconds.
    needle = canary.encode()
    deadline = time.monotonic() + 15
    while (holding := [p.name for p in _db_files(db) if needle in p.read_bytes()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.25)
    assert holding == [], f"canary still in {holding} 15 s after the calls"
    assert _files_holding(local_n8n.user_folder / ".n8n", needle) == []

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for table in ("execution_entity", "execution_data"):
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            assert cols, f"table {table} not found"
            where = " OR ".join(f'instr(CAST("{c}" AS TEXT), ?) > 0' for c in cols)
            sql = f'SELECT count(*) FROM "{table}" WHERE {where}'  # noqa: S608 - fixed names
            hits = con.execute(sql, [canary] * len(cols)).fetchone()[0]
            assert hits == 0, f"{hits} row(s) of {table} hold the canary"
        left = con.execute("SELECT count(*) FROM execution_entity").fetchone()[0]
        assert left == 0, f"{left} execution row(s) kept"
    finally:
        con.close()
