"""Fixtures of the federation tests: the hub on a real port, and the changeable server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hub.app import create_app
from hub.runtime import Runtime
from tests.federation.servers import Remote, _app_of, serve
from tests.live_hub import free_port, serve_in_thread


@pytest.fixture(scope="module")
def hub_url(hub_runtime: Runtime) -> Iterator[str]:
    """The hub's app served on a loopback port for this module."""
    port = free_port()
    server = serve_in_thread(create_app(runtime=hub_runtime), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    time.sleep(0.3)


@pytest.fixture
def remote() -> Iterator[tuple[Remote, str]]:
    """The tests' changeable MCP server, seeded; yields it and its /mcp URL."""
    r = Remote()
    r.seed()
    with serve(_app_of(r)) as url:
        yield r, url + "/mcp"
