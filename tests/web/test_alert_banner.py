"""The console's alert banner (issue 10 item 5): a connection entering error shows owners and
admins a banner on every page until one of them marks it read; members see none."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from hub.connections.service import connection_for, set_health
from tests.helpers import twilio_credentials
from tests.web.test_console import (  # noqa: F401 - the fixtures
    browser,
    connect,
    ctx,
    hub,
    login,
    make_user,
    page,
)

pytestmark = pytest.mark.browser


def test_error_alert_banner_until_marked_read(hub, page: Page, ctx):  # noqa: F811
    t = hub.tenant("alert")
    admin = make_user(hub, t, "admin")
    member = make_user(hub, t, "member")
    connect(hub, t, "twilio", twilio_credentials())
    with hub.runtime.db.session() as s:
        set_health(
            s,
            connection_for(s, t.id, "twilio"),
            "error",
            error="Twilio refused the credentials (401 <b>Authenticate</b>)",
            kind="auth",
        )
    login(page, admin)
    for path in ("/authorizations", "/runs", "/events"):
        page.goto(path)
        banner = page.get_by_role("alert").filter(has_text="needs attention")
        expect(banner).to_have_count(1)
        # The vendor's reason is shown as text, not markup.
        expect(banner).to_contain_text("401 <b>Authenticate</b>")
    page.goto("/runs")
    page.get_by_role("alert").get_by_role("button", name="Mark read").click()
    page.wait_for_url("**/runs")  # back where the admin was
    expect(page.get_by_role("alert").filter(has_text="needs attention")).to_have_count(0)
    unread = httpx.get(
        f"{hub.url}/api/notifications", params={"unread": "true"}, headers=t.h("admin")
    )
    assert unread.status_code == 200, unread.text
    assert unread.json() == []

    # A second incident: a member signed in sees no banner and cannot mark it read.
    with hub.runtime.db.session() as s:
        conn = connection_for(s, t.id, "twilio")
        set_health(s, conn, "connected", error=None, kind=None)
        set_health(s, conn, "error", error="revoked", kind="auth")
    ctx.clear_cookies()
    login(page, member)
    page.goto("/integrations")
    expect(page.get_by_role("alert").filter(has_text="needs attention")).to_have_count(0)
