"""Setting up a tenant's OAuth app in the console with a real browser (issue 10, item 1): the
card offers "Set up the OAuth app" while no app applies; the page shows the exact redirect
URI with a copy button; the form is CSRF-protected, refuses bad input in words, stores the
client secret in the vault (audited, never shown again); then Connect with Google Calendar
goes through the authorization server's own pages with that app, whose secret the server
checks at the token endpoint. A canary client secret appears in no page, log, audit row or
plaintext database value.

Where Google's authorization server is stays the operator's choice (the instance app's
endpoint overrides; the console takes no endpoints): after the owner saves the tenant's app,
the operator points this hub's Google at the sandbox's oidc-provider, as `hub up` does, so
no request goes to accounts.google.com.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from hub.accounts import service as accounts
from hub.app import create_app
from hub.connections.models import Connection
from hub.connections.oauth import apps
from hub.connections.service import connection_for
from hub.runtime import Runtime, open_runtime
from hub.sandbox.authserver import AuthServer, OAuthClient
from hub.sandbox.oauth import SCOPES
from tests.conftest import TenantKit, create_tenant_kit, fresh_database_url, make_settings
from tests.e2e.test_secret_hygiene import dump_database
from tests.helpers import canary
from tests.live_hub import free_port, serve_in_thread
from tests.web.test_console import PASSWORD, browser, ctx, login, page, shot  # noqa: F401
from tests.web.test_console_oauth import consent_in_browser

pytestmark = pytest.mark.browser
GCAL = "google_calendar"


@dataclass
class AppHub:
    """A hub on a real port, and the sandbox authorization server standing for Google's."""

    url: str
    runtime: Runtime
    server: AuthServer
    client: OAuthClient


@pytest.fixture(scope="module")
def hub(backend, tmp_path_factory, pg_server) -> Iterator[AppHub]:  # type: ignore[no-untyped-def]
    """Its own hub (the console fixtures use `hub`): no OAuth app registered anywhere."""
    tmp = tmp_path_factory.mktemp(f"oauth-app-{backend}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The app the tenant's owner creates "at Google": a client with a canary secret; and
    # the operator's own client.
    client = OAuthClient("acme-gcal-client", canary("gcs-"), [f"{url}/oauth/callback"])
    operator = OAuthClient("hub-google_calendar", canary("ops-"), [f"{url}/oauth/callback"])
    server = AuthServer([client, operator], scopes=SCOPES).start()
    db_url, drop = fresh_database_url(backend, tmp, pg_server)
    rt = open_runtime(make_settings(tmp, db_url, port=port, public_url=url))
    uv = serve_in_thread(create_app(runtime=rt), port)
    yield AppHub(url, rt, server, client)
    uv.should_exit = True
    server.stop()
    rt.close()
    drop()


def owner_of(hub: AppHub, prefix: str, role: str = "owner") -> tuple[TenantKit, str]:
    tenant = create_tenant_kit(hub.runtime, prefix)
    email = f"{role}-{tenant.slug}@acme.test"
    with hub.runtime.db.session() as s:
        accounts.create_user(s, tenant.id, email, PASSWORD, role=role)
    return tenant, email


def card(pg: Page, slug: str) -> Any:
    """An integration's card on the Integrations page."""
    return pg.locator(f"li#{slug}")


def test_an_owner_sets_up_the_oauth_app_then_connects_with_it(
    hub,
    page: Page,  # noqa: F811
    backend_name_for,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    secret = hub.client.client_secret
    tenant, email = owner_of(hub, "app")
    seen: list[str] = []  # the pages the browser showed, to search for the canary
    login(page, email)
    page.goto("/integrations")
    gcal = card(page, GCAL)
    # No app applies to this tenant: the card asks for one instead of offering a connect
    # that could only fail.
    expect(gcal.locator("form[action='/integrations/google_calendar/oauth']")).to_have_count(0)
    gcal.get_by_role("link", name="Set up the OAuth app").click()
    page.wait_for_url(f"**/integrations/{GCAL}/oauth-app")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Set up the OAuth app for Google Calendar"
    )
    redirect = page.get_by_label("Redirect URI")
    expect(redirect).to_have_value(f"{hub.url}/oauth/callback")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == f"{hub.url}/oauth/callback"
    expect(page.get_by_label("Client secret")).to_have_attribute("type", "password")
    shot(page, backend_name_for, "oauth-app-form")
    seen.append(page.content())

    # A client id the provider could not have issued: refused in words, the secret not
    # sent back, nothing stored.
    page.get_by_label("Client ID").fill("acme gcal client")
    page.get_by_label("Client secret").fill(secret)
    with page.expect_response(lambda r: r.request.method == "POST") as resp:
        page.get_by_role("button", name="Save the OAuth app").click()
    assert resp.value.status == 422
    expect(page.locator(".field-error")).to_contain_text("one word")
    expect(page.get_by_label("Client secret")).to_have_value("")
    seen.append(page.content())
    with hub.runtime.db.session() as s:
        assert apps.get_tenant_app(s, tenant.id, GCAL) is None

    # A post without the form's CSRF token changes nothing.
    forged = page.request.post(
        f"/integrations/{GCAL}/oauth-app",
        form={"client_id": "forged-client", "client_secret": "forged-secret"},
    )
    assert forged.status == 403 and "Form refused" in forged.text()
    seen.append(forged.text())
    with hub.runtime.db.session() as s:
        assert apps.get_tenant_app(s, tenant.id, GCAL) is None

    # The real app: saved, audited, and the card now connects.
    page.get_by_label("Client ID").fill(hub.client.client_id)
    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Save the OAuth app").click()
    page.wait_for_url(f"**/integrations?app_saved={GCAL}*")
    expect(page.get_by_role("status")).to_contain_text("The OAuth app for Google Calendar is saved")
    seen.append(page.content())
    with hub.runtime.db.session() as s:
        app = apps.get_tenant_app(s, tenant.id, GCAL)
        assert app is not None and app.client_id == hub.client.client_id
        hint = apps.secret_hint(s, hub.runtime.vault, app)
        assert apps.app_scope(s, create_tenant_kit(hub.runtime, "else").id, GCAL) is None
    audit = httpx.get(f"{hub.url}/api/audit?limit=100", headers=tenant.h("admin")).json()["data"]
    (row,) = [a for a in audit if a["action"] == "oauth_app.registered"]
    assert row["integration"] == GCAL and row["actor"].startswith("user:")

    # The operator points this hub's Google at the sandbox (with a client of its own, which
    # this tenant's app overrides).
    with hub.runtime.db.session() as s:
        op = next(c for c in hub.server.clients if c.client_id == "hub-google_calendar")
        apps.register_app(
            s,
            hub.runtime.vault,
            "operator",
            integration=GCAL,
            client_id=op.client_id,
            client_secret=op.client_secret,
            authorize_url=hub.server.authorize_url,
            token_url=hub.server.token_url,
            revoke_url=hub.server.revoke_url,
        )
    # Connect with the tenant's app: the authorization server's pages, then back; the server
    # accepted the secret typed into the console when the hub exchanged the code.
    page.goto("/integrations")
    form = card(page, GCAL).locator("form[action='/integrations/google_calendar/oauth']")
    with page.expect_request(lambda r: r.url.startswith(hub.server.authorize_url)) as asked:
        form.get_by_role("button", name="Connect with Google Calendar").click()
    assert f"client_id={hub.client.client_id}" in asked.value.url
    consent_in_browser(page, hub.server)
    seen.append(page.content())
    with hub.runtime.db.session() as s:
        conn = connection_for(s, tenant.id, GCAL)
        assert conn is not None and conn.status == "connected"
        row_ = s.get(Connection, conn.id)
        assert row_ is not None and row_.oauth_app == "tenant"
    assert hub.server.counts()["authorization_code"] == 1

    # The page for the stored app: the client id and a masked hint only.
    page.goto(f"/integrations/{GCAL}/oauth-app")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Replace the OAuth app for Google Calendar"
    )
    expect(page.locator("main")).to_contain_text(hint or "missing hint")
    shot(page, backend_name_for, "oauth-app-stored")
    seen.append(page.content())

    # The canary: in no page the browser got, no log record, no audit row, no plaintext
    # database value (positive control: the client id it sits next to is found).
    assert seen and not [p[:200] for p in seen if secret in p]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert secret not in logged
    audit_text = httpx.get(f"{hub.url}/api/audit?limit=200", headers=tenant.h("admin")).text
    assert secret not in audit_text and hub.client.client_id in audit_text
    values = dump_database(hub.runtime.db.engine)
    assert any(hub.client.client_id in v for _, _, v in values)
    assert not [(t, c) for t, c, v in values if secret in v]


def test_members_cannot_set_up_an_oauth_app(hub, page: Page):  # noqa: F811
    tenant, email = owner_of(hub, "mem", role="member")
    login(page, email)
    page.goto("/integrations")
    expect(card(page, GCAL).get_by_role("link", name="Set up the OAuth app")).to_have_count(0)
    resp = page.goto(f"/integrations/{GCAL}/oauth-app")
    assert resp is not None and resp.status == 403
    # Their posts are refused too.
    token_page = page.request.post(
        f"/integrations/{GCAL}/oauth-app", form={"client_id": "x", "client_secret": "y"}
    )
    assert token_page.status == 403
    with hub.runtime.db.session() as s:
        assert apps.get_tenant_app(s, tenant.id, GCAL) is None


@pytest.fixture
def backend_name_for(hub: AppHub) -> str:
    return "sqlite" if hub.runtime.db.url.startswith("sqlite") else "postgres"
