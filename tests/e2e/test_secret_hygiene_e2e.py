"""After real calls through n8n (succeeding and failing), a canary key is nowhere but the vault
ciphertext and the vendor's own request: not in hub tables, logs, responses, run records,
n8n's database files or n8n's event log."""

from __future__ import annotations

import base64
import logging
import time

import httpx

from tests.e2e.test_secret_hygiene import dump_database
from tests.helpers import canary, twilio_credentials


def n8n_files_text(user_folder) -> dict[str, bytes]:
    """Every file n8n keeps under its user folder (database, WAL, event logs, config)."""
    return {str(p): p.read_bytes() for p in user_folder.rglob("*") if p.is_file()}


def test_canary_survives_nowhere_after_calls(live_hub, caplog, request):
    caplog.set_level(logging.DEBUG)
    hub, sandbox = live_hub, live_hub.sandbox
    # The 401 breaks the connection, so the faults after it are never consumed: drop them.
    request.addfinalizer(sandbox.clear)
    t = hub.tenant("canary")
    secret = canary()
    creds = twilio_credentials(secret)
    conn = hub.connect(t, "twilio", creds)
    sandbox.clear()
    args = {"to": "+15551234567", "body": "canary run"}
    bodies = []
    ok = hub.call(t, "send_sms", args)
    assert ok.status_code == 200, ok.text
    bodies.append(ok.text)
    for status in (401, 429, 503):
        sandbox.fault("twilio", status, retry_after=7 if status == 429 else None)
        bodies.append(hub.call(t, "send_sms", args).text)
    # Positive control: the vendor really received the secret (Basic auth), so a search
    # for it can succeed; everything below must not find it.
    received = [r.headers.get("authorization", "") for r in sandbox.requests("twilio")]
    decoded = [base64.b64decode(h.split()[1]).decode() for h in received if h.startswith("Basic ")]
    assert any(secret in d for d in decoded)

    time.sleep(2.5)  # n8n deletes execution data just after answering
    for path in (
        "/api/runs",
        f"/api/connections/{conn['id']}",
        "/api/connections",
        "/api/audit?limit=500",
    ):
        bodies.append(httpx.get(hub.url + path, headers=t.h("admin")).text)
    assert [b[:200] for b in bodies if secret in b] == []
    assert not [(tb, c) for tb, c, v in dump_database(hub.runtime.db.engine) if secret in v]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert secret not in logged
    leaks = [
        p for p, data in n8n_files_text(hub.n8n.user_folder).items() if secret.encode() in data
    ]
    assert leaks == []
    # And the search does see n8n's files (a path every call carries is in its database).
    assert any(b"hub/twilio/send_sms/v1" in d for d in n8n_files_text(hub.n8n.user_folder).values())
