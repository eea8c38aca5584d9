"""pytest plugin: a real hub served over HTTP, wired to the local n8n and the vendor sandbox.

n8n must reach the hub (it redeems grants at /edge/credentials), so this hub listens on a
real port. One per backend; each cleans its workflows and webhook credential out of the
shared n8n when done, so the next backend's hub starts from a clean n8n.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from hub.app import create_app
from hub.core.server import server_config
from hub.n8n.instance import register_instance
from hub.runtime import Runtime, open_runtime
from tests.conftest import TenantKit, create_tenant_kit, fresh_database_url, make_settings


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveHub:
    """A hub listening on a real port, with helpers for tests."""

    url: str
    runtime: Runtime
    sandbox: Any
    n8n: Any
    server: uvicorn.Server

    def tenant(self, prefix: str = "e") -> TenantKit:
        """A fresh tenant with admin, ops and agent tokens."""
        return create_tenant_kit(self.runtime, prefix)

    def connect(
        self, tenant: TenantKit, integration: str, credentials: dict[str, str], **extra: Any
    ) -> dict[str, Any]:
        """Connect an integration with its base URL pointing at the sandbox."""
        body = {
            "integration": integration,
            "credentials": credentials,
            "base_url": self.sandbox.base_url(integration),
            **extra,
        }
        # Save & Test runs within the create (through n8n against the sandbox).
        r = httpx.post(
            f"{self.url}/api/connections", json=body, headers=tenant.h("admin"), timeout=60
        )
        assert r.status_code == 201, r.text
        return r.json()

    def call(
        self,
        tenant: TenantKit,
        tool: str,
        args: dict[str, Any],
        *,
        kind: str = "agent",
        **extra: Any,
    ) -> httpx.Response:
        """POST /api/tools/{tool}/call as the tenant's agent."""
        return httpx.post(
            f"{self.url}/api/tools/{tool}/call",
            json={"args": args, **extra},
            headers=tenant.h(kind),
            timeout=60,
        )


def serve_in_thread(app: Any, port: int) -> uvicorn.Server:
    """Run the hub's own server config in a daemon thread; wait until it accepts connections."""
    server = uvicorn.Server(server_config(app, app.state.settings, host="127.0.0.1", port=port))
    threading.Thread(target=server.run, daemon=True, name=f"hub-{port}").start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the hub did not start within 30 s")
        time.sleep(0.02)
    return server


def _clean_n8n(n8n: Any) -> None:
    for wf in n8n.client.list_workflows():
        if str(wf.get("name", "")).startswith("hub: "):
            try:
                n8n.client.deactivate(wf["id"])
            finally:
                n8n.client.delete_workflow(wf["id"])


@pytest.fixture(scope="session")
def live_hub(backend, tmp_path_factory, pg_server, local_n8n, sandbox) -> Iterator[LiveHub]:
    """A migrated hub on a real port, registered with n8n, every workflow deployed."""
    from hub.n8n.deploy import deploy_all

    tmp = tmp_path_factory.mktemp(f"live-{backend}")
    url, drop = fresh_database_url(backend, tmp, pg_server)
    port = free_port()
    rt = open_runtime(make_settings(tmp, url, port=port, public_url=f"http://127.0.0.1:{port}"))
    _clean_n8n(local_n8n)
    with rt.db.session() as s:
        register_instance(s, rt.vault, local_n8n.url, api_key=local_n8n.api_key)
    deploy_all(rt)
    rt.calls.refresh_hop()
    server = serve_in_thread(create_app(runtime=rt), port)
    hub = LiveHub(
        url=f"http://127.0.0.1:{port}", runtime=rt, sandbox=sandbox, n8n=local_n8n, server=server
    )
    yield hub
    server.should_exit = True
    time.sleep(0.3)
    _clean_n8n(local_n8n)
    rt.close()
    drop()
