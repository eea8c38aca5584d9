"""The OAuth connect flow end to end against a real authorization server (oidc-provider):
SECURITY 15 (PKCE S256, single-use expiring state) and 19 (exact redirect URIs)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from hub.audit.models import AuditEvent
from hub.connections.models import Connection, ConnectionEvent
from hub.connections.oauth import client as oauth
from hub.connections.oauth.client import ClientCreds, Endpoints
from tests.connections.conftest import HUB_CALLBACK
from tests.connections.oauth_kit import (
    client_of,
    consent,
    iter_tokens,
    path_and_query,
    query_of,
    stored_tokens,
)


def _start(client, tenant, integration="google_calendar"):  # type: ignore[no-untyped-def]
    r = client.post(f"/api/oauth/{integration}/start", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    return r.json()["authorize_url"]


def _connect(client, tenant, integration="google_calendar", login="owner@example.test"):  # type: ignore[no-untyped-def]
    url = _start(client, tenant, integration)
    cb = consent(url, login, stop_at=HUB_CALLBACK)
    r = client.get(path_and_query(cb))
    assert r.status_code == 200, r.text
    return cb, r.json()


def test_connect_google_calendar(client, hub_runtime, tenant, oauth_apps):
    url = _start(client, tenant)
    q = query_of(url)
    # SECURITY 15: PKCE S256 on every authorization request, and a long random state.
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 40 and q["redirect_uri"] == HUB_CALLBACK
    assert q["access_type"] == "offline" and q["prompt"] == "consent"  # Google's quirks, as data
    cb = consent(url, "owner@example.test", stop_at=HUB_CALLBACK)
    r = client.get(path_and_query(cb))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "connected" and got["integration"] == "google_calendar"

    conn = client.get(f"/api/connections/{got['connection_id']}", headers=tenant.h()).json()
    assert conn["status"] == "connected"
    assert conn["account_label"] == "owner@example.test"  # from the ID token
    assert conn["connected_via"] == "ui"
    with hub_runtime.db.session() as s:
        row = s.get(Connection, got["connection_id"])
        assert row is not None and row.credential_id and row.token_expires_at is not None
        cred = hub_runtime.vault.get(s, tenant.id, row.credential_id)
        assert cred.kind == "oauth_token"
        fields = hub_runtime.vault.read(s, tenant.id, row.credential_id)
        assert fields["refresh_token"] and fields["access_token"]
        assert "calendar.events" in fields["scope"]
        audit = [
            json.dumps([a.action, a.details, a.error_message])
            for a in s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant.id))
        ]
        events = list(
            s.scalars(select(ConnectionEvent).where(ConnectionEvent.connection_id == row.id))
        )
    assert [(e.from_status, e.to_status) for e in events] == [("pending_setup", "connected")]
    # No token in the API's answer, the connection list or the audit trail.
    listing = client.get("/api/connections", headers=tenant.h()).text
    for secret in iter_tokens(fields):
        assert secret not in json.dumps(conn) and secret not in listing
        assert not any(secret in a for a in audit)
    assert any("connection.created" in a for a in audit)


def test_state_is_single_use(client, tenant, oauth_apps):
    cb, _ = _connect(client, tenant)
    again = client.get(path_and_query(cb))
    assert again.status_code == 422
    assert "already used" in again.json()["error"]["message"]


def test_callback_without_state_or_with_a_forged_one_is_refused(client, tenant, oauth_apps):
    url = _start(client, tenant)
    cb = consent(url, "owner@example.test", stop_at=HUB_CALLBACK)
    code = query_of(cb)["code"]
    for params in ({"code": code}, {"code": code, "state": "forged-" + "x" * 40}):
        r = client.get("/oauth/callback?" + urlencode(params))
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "state"
    with_state = client.get(path_and_query(cb))
    assert with_state.status_code == 200  # the genuine state still works once


def test_provider_requires_pkce_and_exact_redirect(oauth_apps, client, tenant):
    url = _start(client, tenant)
    q = query_of(url)
    base = oauth_apps.authorize_url
    # Without PKCE the authorization server refuses (it requires S256 for every client).
    no_pkce = {k: v for k, v in q.items() if not k.startswith("code_challenge")}
    r = httpx.get(base + "?" + urlencode(no_pkce), follow_redirects=False)
    assert "error=invalid_request" in r.headers.get("location", "")
    assert "PKCE" in r.headers.get("location", "")
    # SECURITY 19: any other redirect URI, even one path segment longer, is refused by the
    # server and never redirected to.
    for evil in (HUB_CALLBACK + "/x", HUB_CALLBACK.replace("8000", "8001"), HUB_CALLBACK + "?a=1"):
        r = httpx.get(base + "?" + urlencode({**q, "redirect_uri": evil}), follow_redirects=False)
        assert not r.headers.get("location", "").startswith(evil.split("?")[0])
        assert r.status_code == 400 or "redirect_uri" in r.text


def test_callback_at_another_redirect_uri_is_refused(client, hub_runtime, tenant, oauth_apps):
    url = _start(client, tenant)
    cb = consent(url, "owner@example.test", stop_at=HUB_CALLBACK)
    # The hub's public URL changed since the flow started: the callback no longer matches.
    settings = client.app.state.settings
    before = settings.public_url
    object.__setattr__(settings, "public_url", "http://127.0.0.1:8000/other")
    try:
        r = client.get(path_and_query(cb))
    finally:
        object.__setattr__(settings, "public_url", before)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "redirect_uri"


def test_consent_denied_is_a_clear_error(client, tenant, oauth_apps):
    url = _start(client, tenant)
    state = query_of(url)["state"]
    r = client.get("/oauth/callback?" + urlencode({"state": state, "error": "access_denied"}))
    assert r.status_code == 422
    assert "did not authorize" in r.json()["error"]["message"]


def test_start_needs_an_admin_and_a_registered_app(client, tenant, oauth_apps):
    r = client.post("/api/oauth/google_calendar/start", headers=tenant.h("agent"))
    assert r.status_code == 403
    r = client.post("/api/oauth/twilio/start", headers=tenant.h())
    assert r.status_code == 422 and "does not connect through OAuth" in r.text
    r = client.post("/api/oauth/youtube/start", headers=tenant.h())
    assert r.status_code == 409  # planned: not connectable yet


def test_disconnect_revokes_the_grant_at_the_provider(client, hub_runtime, tenant, oauth_apps):
    """Disconnect ends the grant at the authorization server, not only in the hub: the old
    refresh token no longer works there, and the audit row says it was revoked."""
    _, got = _connect(client, tenant)
    cid = got["connection_id"]
    fields = stored_tokens(hub_runtime, tenant.id, cid)
    c = client_of(oauth_apps, "google_calendar")
    creds = ClientCreds(c.client_id, c.client_secret)
    ep = Endpoints(authorize_url=oauth_apps.authorize_url, token_url=oauth_apps.token_url)
    # The grant is alive before: the provider honours the refresh token (Google's habit here:
    # it does not rotate, so the stored one stays the one to revoke).
    assert oauth.refresh(ep, creds, refresh_token=fields["refresh_token"]).access_token
    before = oauth_apps.counts()["revocation"]

    r = client.delete(f"/api/connections/{cid}", headers=tenant.h("admin"))
    assert r.status_code == 204, r.text
    assert oauth_apps.counts()["revocation"] == before + 2  # refresh token, then access token
    with pytest.raises(oauth.TokenError) as refused:
        oauth.refresh(ep, creds, refresh_token=fields["refresh_token"])
    assert refused.value.error == "invalid_grant"
    with hub_runtime.db.session() as s:
        deleted = s.scalars(
            select(AuditEvent).where(
                AuditEvent.tenant_id == tenant.id,
                AuditEvent.action == "connection.deleted",
                AuditEvent.target == cid,
            )
        ).one()
    assert deleted.details["revocation"] == "revoked"
    assert not any(t in json.dumps(deleted.details) for t in iter_tokens(fields))
