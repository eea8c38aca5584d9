"""Connect Google Calendar in the console with a real browser: Connect with Google Calendar,
sign in and consent on the authorization server's own pages (oidc-provider), back to the
console; then an agent creates an event over MCP with the SDK's real client (issue 10)."""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from playwright.sync_api import Page, expect

from hub.accounts import service as accounts
from hub.connections.service import connection_for
from tests.e2e.test_calendars import EVENT, calendars  # noqa: F401 - the fixture
from tests.mcp.test_mcp import mcp_http
from tests.web.test_console import PASSWORD, browser, ctx, hub, login, page  # noqa: F401

pytestmark = [pytest.mark.n8n, pytest.mark.browser]


def owner_with_pending_calendar(live: Any, prefix: str) -> tuple[Any, str]:
    """A tenant with an owner (email returned) and a pending Google Calendar connection whose
    vendor API is the sandbox, set before consent (never the real Google)."""
    tenant = live.tenant(prefix)
    email = f"owner-{tenant.slug}@acme.test"
    with live.runtime.db.session() as s:
        accounts.create_user(s, tenant.id, email, PASSWORD, role="owner")
    r = httpx.post(
        f"{live.url}/api/oauth/google_calendar/start",
        json={"base_url": live.sandbox.base_url("google_calendar")},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200, r.text
    return tenant, email


def consent_in_browser(page: Page, server: Any) -> None:  # noqa: F811 - not the fixture
    """Sign in and approve on oidc-provider's own pages, then back to the console."""
    page.wait_for_url(f"{server.url}/**")
    page.locator("input[name=login]").fill("office@example.test")
    page.locator("input[name=password]").fill("any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/integrations?connected=google_calendar*", timeout=60_000)


def off_the_page_loop(body: Callable[[], Awaitable[dict]]) -> dict:  # type: ignore[type-arg]
    """Run an async MCP client body in another thread: Playwright's sync API owns this
    thread's event loop."""
    got: list[dict] = []  # type: ignore[type-arg]
    worker = threading.Thread(target=lambda: got.append(anyio.run(body)))
    worker.start()
    worker.join(120)
    return got[0]


def test_connect_google_calendar_in_the_console_then_an_agent_books(
    hub,  # noqa: F811 - the fixture imported above
    page: Page,  # noqa: F811
    calendars,  # noqa: F811
):
    tenant, email = owner_with_pending_calendar(hub, "ui-oauth")
    login(page, email)
    page.goto("/integrations")
    page.locator("form[action='/integrations/google_calendar/oauth'] button").click()
    # oidc-provider's own sign-in and consent pages.
    consent_in_browser(page, calendars)
    with hub.runtime.db.session() as s:
        conn = connection_for(s, tenant.id, "google_calendar")
        assert conn is not None and conn.status == "connected"
        assert conn.account_label == "office@example.test" and conn.connected_via == "ui"
    hub.sandbox.clear()

    async def book() -> dict:  # type: ignore[type-arg]
        async with mcp_http(hub, tenant.agent) as c:
            res = await c.call_tool("create_calendar_event", EVENT)
            assert not res.is_error, res.content
            return dict(res.structured_content)

    out = off_the_page_loop(book)
    data = out.get("data", out)
    assert data["event_id"] and data["start"], out
    posts = [r for r in hub.sandbox.requests("google_calendar") if r.method == "POST"]
    assert len(posts) == 1 and posts[0].status == 200

    # Save & Test from the console: the vendor's refusal sets error and says why; a pass
    # sets connected again. Both are real test calls through n8n to the sandbox.
    hub.sandbox.fault("google_calendar", 401)
    page.goto("/integrations")
    card = page.locator("li", has=page.locator("form[action='/integrations/google_calendar/test']"))
    card.get_by_role("button", name="Test").click()
    page.wait_for_url("**/integrations?tested=google_calendar*")
    expect(page.get_by_role("status")).to_contain_text(
        "Google Calendar did not pass the test call (error)"
    )
    with hub.runtime.db.session() as s:
        conn = connection_for(s, tenant.id, "google_calendar")
        assert conn is not None and conn.status == "error"
    card = page.locator("li", has=page.locator("form[action='/integrations/google_calendar/test']"))
    card.get_by_role("button", name="Test").click()
    page.wait_for_url("**/integrations?tested=google_calendar*")
    expect(page.get_by_role("status")).to_have_text(
        "Google Calendar passed the test call: connected."
    )
    with hub.runtime.db.session() as s:
        conn = connection_for(s, tenant.id, "google_calendar")
        assert conn is not None and conn.status == "connected" and conn.last_tested_at


def test_an_agents_connect_link_works_once_for_a_signed_in_admin(
    hub,  # noqa: F811
    page: Page,  # noqa: F811
    calendars,  # noqa: F811
):
    """initiate_integration answers a single-use link: it grants nothing (sign-in first), it
    starts the flow for the signed-in owner, the connection records `assistant`, and the
    link is dead afterwards."""
    tenant, email = owner_with_pending_calendar(hub, "ui-link")

    async def ask() -> dict:  # type: ignore[type-arg]
        async with mcp_http(hub, tenant.agent) as c:
            res = await c.call_tool("initiate_integration", {"integration": "google_calendar"})
            assert not res.is_error, res.content
            return dict(res.structured_content)

    asked = off_the_page_loop(ask)
    link = asked["connect_url"]
    assert link.startswith(f"{hub.url}/connect/") and "once" in asked["next_step"]
    path = link.removeprefix(hub.url)

    # Not signed in: the link leads to the sign-in page, then on to the link's page.
    page.goto(path)
    page.wait_for_url(re.compile(r"/login\?next="))
    login(page, email, path=page.url.removeprefix(hub.url))
    page.wait_for_url(f"**{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect Google Calendar")
    page.get_by_role("button", name="Connect with Google Calendar").click()
    consent_in_browser(page, calendars)
    with hub.runtime.db.session() as s:
        conn = connection_for(s, tenant.id, "google_calendar")
        assert conn is not None and conn.status == "connected"
        assert conn.connected_via == "assistant"

    # Spent: the same link is refused, with what to do instead.
    resp = page.goto(path)
    assert resp is not None and resp.status == 410
    expect(page.locator("main")).to_contain_text("already used")
    # A link this hub never issued is a 404, not a hint that links exist.
    resp = page.goto("/connect/" + "x" * 32)
    assert resp is not None and resp.status == 404
