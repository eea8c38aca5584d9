"""The account an OAuth grant is for, found after the exchange (issue 10: account identity),
against a real authorization server: DocuSign's userinfo lists the user's accounts, each on
its own API host, and the default one becomes the connection's account and base URL."""

from __future__ import annotations

from hub.connections.models import Connection
from hub.connections.oauth.flow import _usable
from hub.connections.oauth.provider import provider_for
from hub.registry.service import get_integration
from tests.connections.conftest import HUB_CALLBACK
from tests.connections.oauth_kit import (
    DOCUSIGN_ACCOUNT,
    DOCUSIGN_OTHER_ACCOUNT,
    connect_via_flow,
    query_of,
)


def _row(hub_runtime, conn_id: str) -> Connection:  # type: ignore[no-untyped-def]
    with hub_runtime.db.session() as s:
        row = s.get(Connection, conn_id)
        assert row is not None
        s.expunge(row)
        return row


def test_docusign_connect_takes_the_default_account_and_its_api_host(
    client, hub_runtime, tenant, oauth_apps
):
    r = client.post("/api/oauth/docusign/start", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    assert query_of(r.json()["authorize_url"])["scope"] == "signature extended"
    # The sandbox client takes its secret by Basic auth only, as DocuSign does: the exchange
    # succeeding shows the registry's client_auth: basic was followed.
    conn_id = connect_via_flow(client, tenant, "docusign", "office@example.test", HUB_CALLBACK)
    row = _row(hub_runtime, conn_id)
    assert row.config == {
        "account_id": DOCUSIGN_ACCOUNT,  # the one userinfo marks is_default, not the first
        "account_name": "Sparkle Window Cleaning",
        "base_uri": "https://demo.docusign.net",
    }
    assert row.base_url == "https://demo.docusign.net"
    assert row.account_label == "Sparkle Window Cleaning"
    assert row.status == "connected"


def test_a_reconnect_keeps_the_account_and_host_an_admin_chose(
    client, hub_runtime, tenant, oauth_apps
):
    conn_id = connect_via_flow(client, tenant, "docusign", "office@example.test", HUB_CALLBACK)
    r = client.patch(
        f"/api/connections/{conn_id}",
        json={
            "config": {"account_id": DOCUSIGN_OTHER_ACCOUNT},
            "base_url": "https://eu.docusign.net",
        },
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200, r.text
    again = connect_via_flow(client, tenant, "docusign", "office@example.test", HUB_CALLBACK)
    assert again == conn_id
    row = _row(hub_runtime, conn_id)
    assert row.config["account_id"] == DOCUSIGN_OTHER_ACCOUNT
    assert row.base_url == "https://eu.docusign.net"


def test_a_found_value_of_the_wrong_form_is_not_kept(hub_runtime):
    with hub_runtime.db.session() as s:
        definition = get_integration(s, "docusign").definition
    found = {
        "account_id": DOCUSIGN_ACCOUNT,
        "account_name": "Sparkle",
        "base_uri": "https://docusign.net.attacker.example",
    }
    # The host the access token will be sent to must look like a DocuSign account host.
    assert _usable(definition, found) == {"account_id": DOCUSIGN_ACCOUNT, "account_name": "Sparkle"}
    assert _usable(definition, {**found, "account_id": "../../admin"}) == {
        "account_name": "Sparkle"
    }


def test_the_userinfo_url_follows_an_apps_token_url_override(hub_runtime):
    with hub_runtime.db.session() as s:
        definition = get_integration(s, "docusign").definition
    prod = provider_for("docusign", "DocuSign", definition, {})
    assert prod.connections_url == "https://account.docusign.com/oauth/userinfo"
    demo = provider_for(
        "docusign",
        "DocuSign",
        definition,
        {"token_url": "https://account-d.docusign.com/oauth/token"},
    )
    assert demo.connections_url == "https://account-d.docusign.com/oauth/userinfo"
    with hub_runtime.db.session() as s:
        xero = get_integration(s, "xero").definition
    # Xero's connections live on another host than its token endpoint: never moved.
    moved = provider_for("xero", "Xero", xero, {"token_url": "http://127.0.0.1:9/token"})
    assert moved.connections_url == "https://api.xero.com/connections"
