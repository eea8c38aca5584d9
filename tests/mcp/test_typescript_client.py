"""The client the issue names: the TypeScript MCP SDK (1.32, installed with the everything
server) validates each tool result against the tool's outputSchema, error results included,
and throws "data/status must be equal to one of the allowed values" when a refusal does not
fit. Driven against the hub on a real port: refusals, errors and successes must all pass."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.app import create_app
from hub.runtime import Runtime
from tests.conftest import create_tenant_kit
from tests.federation.everything import ensure_everything
from tests.live_hub import free_port, serve_in_thread

SCRIPT = Path(__file__).with_name("ts_client.mjs")


@pytest.fixture(scope="module")
def hub_url(hub_runtime: Runtime) -> Iterator[str]:
    port = free_port()
    server = serve_in_thread(create_app(runtime=hub_runtime), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    time.sleep(0.3)


def test_the_typescript_client_accepts_every_result(hub_url: str, hub_runtime: Runtime) -> None:
    entry = ensure_everything()
    # ESM resolves packages from the script's folder: run a copy beside the installed SDK.
    here = entry.parents[3] / "ts_client.mjs"
    shutil.copyfile(SCRIPT, here)
    t = create_tenant_kit(hub_runtime, "ts")
    calls = [
        ["hub_query", {"type": "nonsense"}],  # refused: invalid type
        ["hub_query", {"type": "runs"}],
        ["check_authorization", {"queue_id": "auth_missing"}],  # refused: not found
        ["disconnect_integration", {"integration": "stripe"}],  # refused: reasoning
        ["initiate_integration", {"integration": "stripe"}],
        ["hub_capabilities", {"domain": "nope"}],  # refused: unknown domain
        ["hub_action", {"domain": "x", "action": "y", "data": {}}],  # refused
    ]
    p = subprocess.run(
        [shutil.which("node") or "node", str(here), hub_url + "/mcp", t.agent, json.dumps(calls)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    bad = [r for r in out["results"] if not r["ok"]]
    assert bad == [], bad
    refused = [r for r in out["results"] if r["status"] == "refused"]
    assert len(refused) == 5 and all(r["isError"] for r in refused)
