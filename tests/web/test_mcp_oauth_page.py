"""Authorize an OAuth MCP server from the console in a real browser: add it with the form,
sign in and consent on the authorization server's own pages (oidc-provider), back to the
MCP servers page with its tools listed; the tokens appear in no page."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hub.accounts import service as accounts
from hub.federation.models import McpServer
from hub.sandbox.authserver import AuthServer, OAuthClient
from tests.federation.protected import protected_server
from tests.web.test_console import PASSWORD, browser, ctx, hub, login, page  # noqa: F401

pytestmark = [pytest.mark.n8n, pytest.mark.browser]


@pytest.fixture(scope="module")
def issuer() -> Iterator[AuthServer]:
    """oidc-provider; the hub registers itself there (RFC 7591)."""
    rs = OAuthClient("mcp-resource", secrets.token_urlsafe(24), ["http://127.0.0.1/none"])
    server = AuthServer([rs], scopes=["mcp:tools"], access_ttl=300).start()
    yield server
    server.stop()


def test_add_and_authorize_an_oauth_server_in_the_console(
    hub: Any,  # noqa: F811 - the fixture imported above
    page: Page,  # noqa: F811
    issuer: AuthServer,
) -> None:
    tenant = hub.tenant("ui-mcp-oauth")
    email = f"admin-{tenant.slug}@acme.test"
    with hub.runtime.db.session() as s:
        accounts.create_user(s, tenant.id, email, PASSWORD, role="admin")
    with protected_server(issuer, issuer.clients[0]) as (url, check):
        login(page, email)
        page.goto("/mcp-servers")
        page.get_by_label("Name", exact=True).fill("secure")
        page.get_by_label("URL", exact=True).fill(url)
        page.get_by_label("Authentication").select_option("oauth")
        page.get_by_role("button", name="Add server").click()
        # Straight to the authorization server's own sign-in and consent pages.
        page.wait_for_url(f"{issuer.url}/**")
        page.locator("input[name=login]").fill("admin@acme.test")
        page.locator("input[name=password]").fill("any")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/mcp-servers?done=authorized*", timeout=60_000)
        expect(page.get_by_role("status")).to_contain_text("Authorized")
        card = page.locator("section.card", has=page.get_by_role("heading", name="secure"))
        expect(card.locator("tr[data-tool='whoami']")).to_be_visible()
        expect(card.get_by_role("button", name="Authorize again")).to_be_visible()
        html = page.content()
        with hub.runtime.db.session() as s:
            m = s.query(McpServer).filter_by(tenant_id=tenant.id, name="secure").one()
            assert m.health == "connected"
            grant = hub.runtime.vault.read(s, tenant.id, m.credential_id)
        assert check.seen and check.seen[-1] == grant["access_token"]
        for key in ("access_token", "refresh_token", "client_secret"):
            assert grant.get(key) and grant[key] not in html
