"""The reference server nobody here wrote (npm @modelcontextprotocol/server-everything, in
its streamable HTTP mode): registered through the REST API, its tools discovered with the
SDK client, one approved and called through the hub by the SDK client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hub.app import create_app
from hub.runtime import Runtime
from tests.conftest import create_tenant_kit
from tests.federation.everything import everything
from tests.federation.test_federation import approve, by_name, call, register, tools_of
from tests.live_hub import free_port, serve_in_thread

_ = everything  # the session fixture


@pytest.fixture(scope="module")
def hub_url(hub_runtime: Runtime) -> Iterator[str]:
    port = free_port()
    server = serve_in_thread(create_app(runtime=hub_runtime), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    time.sleep(0.3)


def test_server_everything_through_the_hub(
    hub_url: str, hub_runtime: Runtime, everything: str
) -> None:
    t = create_tenant_kit(hub_runtime, "ev")
    r = register(hub_url, t, name="everything", url=everything, transport="streamable_http")
    assert r.status_code == 201, r.text
    srv = r.json()
    assert srv["refresh"]["ok"] is True, srv["refresh"]
    tools = by_name(srv)
    assert "echo" in tools and len(tools) >= 5, sorted(tools)
    assert all(x["state"] == "pending" for x in tools.values())
    assert tools["echo"]["input_schema"]["properties"]["message"]
    approve(hub_url, t, srv["id"], "echo", "unrestricted")
    listed = tools_of(hub_url, t)
    assert "everything__echo" in listed
    assert not any(n.startswith("everything__") and n != "everything__echo" for n in listed)
    res = call(hub_url, t, "everything__echo", {"message": "hello from the hub"})
    assert res.structured_content["status"] == "succeeded", res
    assert "hello from the hub" in str(res.structured_content["data"])
    # Arguments are checked against the pinned schema by the hub first.
    bad = call(hub_url, t, "everything__echo", {"message": 42})
    assert bad.structured_content["error"]["kind"] == "invalid_request"
