"""Fixtures for the OAuth tests: one sandbox authorization server per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.sandbox.authserver import AuthServer
from tests.connections.oauth_kit import register_apps, start_auth_server

# The session hub (tests.conftest.hub_runtime) serves at the default public URL.
HUB_CALLBACK = "http://127.0.0.1:8000/oauth/callback"


@pytest.fixture(scope="session")
def auth_server() -> Iterator[AuthServer]:
    """oidc-provider standing in for Google and Microsoft's authorization servers."""
    server = start_auth_server([HUB_CALLBACK])
    yield server
    server.stop()


@pytest.fixture
def oauth_apps(hub_runtime, auth_server) -> AuthServer:  # type: ignore[no-untyped-def]
    """The hub's OAuth apps registered against the sandbox server."""
    register_apps(hub_runtime, auth_server)
    return auth_server
