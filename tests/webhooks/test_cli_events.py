"""`hub events list | replay` as an operator runs them, on the test hub's database."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.webhooks import kit


def hub_cli(rt, *args: str) -> subprocess.CompletedProcess:
    st = rt.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATABASE_URL": st.resolved_database_url,
            "HUB_MASTER_KEY": st.master_key,
            "HUB_DATA_DIR": str(st.data_dir),
            "HUB_LOG_FORMAT": "console",
            "COLUMNS": "250",  # rich's tables fit the terminal; ids must not be cut
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True, timeout=180
    )


def test_list_and_replay(client, tenant, hub_runtime):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    body = kit.stripe_event("charge.refunded")
    event_id = client.post(path, content=body, headers=kit.stripe_headers(body, secret)).json()[
        "event_id"
    ]
    listed = hub_cli(hub_runtime, "events", "list", "--tenant", tenant.slug)
    assert listed.returncode == 0, listed.stderr
    assert event_id in listed.stdout and "charge.refunded" in listed.stdout
    replayed = hub_cli(hub_runtime, "events", "replay", event_id, "--tenant", tenant.slug)
    assert replayed.returncode == 0, replayed.stderr
    assert "1 event(s) queued" in replayed.stdout
    ev = client.get(f"/api/events/{event_id}", headers=tenant.h("admin")).json()
    assert ev["replays"] == 1
    audit = client.get(
        "/api/audit", params={"action": "webhook.replayed"}, headers=tenant.h("admin")
    ).json()["data"]
    assert [(a["actor"], a["target"]) for a in audit] == [("cli", event_id)]
