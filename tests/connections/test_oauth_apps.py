"""Whose OAuth app a connection uses (issue 10, item 1): the instance's (the operator's, CLI
only) or a tenant's own (its owner or admin registers it in the console), which overrides
the instance's client for that tenant only (the endpoints stay the operator's). A connection
keeps refreshing and revoking with the app that issued its tokens. Against a real
authorization server (oidc-provider) with two clients for Google Calendar: the instance's and
the tenant's."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.audit.models import AuditEvent
from hub.connections.models import Connection
from hub.connections.oauth import apps
from hub.core.errors import HubError
from hub.runtime import open_runtime
from hub.sandbox.authserver import AuthServer, OAuthClient
from hub.sandbox.oauth import SCOPES
from tests.conftest import create_tenant_kit, fresh_database_url, make_settings
from tests.connections.conftest import HUB_CALLBACK
from tests.connections.oauth_kit import (
    consent,
    path_and_query,
    query_of,
    stored_tokens,
)
from tests.e2e.test_secret_hygiene import dump_database

GCAL = "google_calendar"


@pytest.fixture(scope="module")
def scoped(backend, tmp_path_factory, pg_server) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A hub with the instance's app registered, endpoints at the sandbox server; the
    tenant's client exists at the server, not yet at the hub."""
    tmp = tmp_path_factory.mktemp(f"apps-{backend}")
    instance = OAuthClient("hub-google_calendar", secrets.token_urlsafe(24), [HUB_CALLBACK])
    own = OAuthClient("acme-calendar-app", "tenant-" + secrets.token_hex(16), [HUB_CALLBACK])
    server = AuthServer([instance, own], scopes=SCOPES).start()
    url, drop = fresh_database_url(backend, tmp, pg_server)
    rt = open_runtime(make_settings(tmp, url))
    with rt.db.session() as s:
        apps.register_app(
            s,
            rt.vault,
            "operator",
            integration=GCAL,
            client_id=instance.client_id,
            client_secret=instance.client_secret,
            authorize_url=server.authorize_url,
            token_url=server.token_url,
            revoke_url=server.revoke_url,
        )
    with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
        yield {"rt": rt, "client": client, "server": server, "instance": instance, "own": own}
    rt.close()
    server.stop()
    drop()


def _start(client: TestClient, tenant: Any) -> str:
    r = client.post(f"/api/oauth/{GCAL}/start", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    return str(r.json()["authorize_url"])


def _finish(client: TestClient, url: str) -> str:
    r = client.get(path_and_query(consent(url, "office@acme.test", stop_at=HUB_CALLBACK)))
    assert r.status_code == 200, r.text
    return str(r.json()["connection_id"])


def _scope_of(rt: Any, conn_id: str) -> str | None:
    with rt.db.session() as s:
        row = s.get(Connection, conn_id)
        assert row is not None
        return row.oauth_app


def _audit(rt: Any, tenant_id: str) -> list[AuditEvent]:
    with rt.db.session() as s:
        q = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
        rows = list(s.scalars(q.order_by(AuditEvent.created_at)))
        s.expunge_all()
        return rows


def test_a_tenants_own_app_serves_that_tenant_only_and_tokens_stay_with_their_app(scoped):
    rt, client, own = scoped["rt"], scoped["client"], scoped["own"]
    acme, other = create_tenant_kit(rt, "acme"), create_tenant_kit(rt, "other")

    # Before: the instance's app for everyone.
    first = _start(client, acme)
    assert query_of(first)["client_id"] == "hub-google_calendar"
    conn_id = _finish(client, first)
    assert _scope_of(rt, conn_id) == "instance"

    with rt.db.session() as s:
        apps.register_tenant_app(
            s,
            rt.vault,
            acme.id,
            "user:usr_test",
            integration=GCAL,
            client_id=own.client_id,
            client_secret=own.client_secret,
        )
        assert apps.app_scope(s, acme.id, GCAL) == "tenant"
        assert apps.app_scope(s, other.id, GCAL) == "instance"

    # The tokens the instance's client issued still refresh with that client (the tenant's
    # client would get invalid_grant for them).
    before = stored_tokens(rt, acme.id, conn_id)
    got = rt.calls.refresher.refresh_sync(acme.id, conn_id, force=True)
    assert got["access_token"] != before["access_token"]

    # The next connect uses the tenant's app; refreshes then go with it.
    again = _start(client, acme)
    assert query_of(again)["client_id"] == own.client_id
    assert _finish(client, again) == conn_id  # a reconnect of the same connection
    assert _scope_of(rt, conn_id) == "tenant"
    before = stored_tokens(rt, acme.id, conn_id)
    got = rt.calls.refresher.refresh_sync(acme.id, conn_id, force=True)
    assert got["access_token"] != before["access_token"]

    # Another tenant is untouched: still the instance's app.
    assert query_of(_start(client, other))["client_id"] == "hub-google_calendar"

    # Disconnecting revokes with the client that holds the grant.
    r = client.delete(f"/api/connections/{conn_id}", headers=acme.h("admin"))
    assert r.status_code == 204, r.text
    rows = _audit(rt, acme.id)
    (deleted,) = [a for a in rows if a.action == "connection.deleted"]
    assert deleted.details["revocation"] == "revoked"
    (registered,) = [a for a in rows if a.action == "oauth_app.registered"]
    assert registered.details["client_id"] == own.client_id
    assert registered.details["scope"] == "tenant" and registered.actor == "user:usr_test"
    assert [a for a in _audit(rt, other.id) if a.action.startswith("oauth_app.")] == []
    # The tenant's client secret is in the vault only: no plaintext in any table or audit row.
    assert not [(t, c) for t, c, v in dump_database(rt.db.engine) if own.client_secret in v]
    assert own.client_secret not in json.dumps([a.details for a in rows])


def test_registering_a_tenant_app_refuses_bad_input_with_what_to_do(scoped):
    rt = scoped["rt"]
    acme = create_tenant_kit(rt, "acme")

    def register(**kw: Any) -> Any:
        with rt.db.session() as s:
            args = {"integration": GCAL, "client_id": "my-app", "client_secret": "s3cret-value"}
            return apps.register_tenant_app(s, rt.vault, acme.id, "user:u", **{**args, **kw})

    for kw, field, words in (
        ({"client_id": "  "}, "client_id", "client_id is required"),
        ({"client_id": "two words"}, "client_id", "one word"),
        ({"client_secret": ""}, "client_secret", "client_secret is required"),
        ({"integration": "twilio"}, "integration", "does not connect through OAuth"),
    ):
        with pytest.raises(HubError) as exc:
            register(**kw)
        assert exc.value.details.get("field") == field and words in exc.value.message, kw
    with rt.db.session() as s:
        assert apps.get_tenant_app(s, acme.id, GCAL) is None

    register()
    with rt.db.session() as s:
        app = apps.get_tenant_app(s, acme.id, GCAL)
        assert app is not None
        hint = apps.secret_hint(s, rt.vault, app)
    assert hint and "s3cret-value" not in hint
    # Replacing with an empty secret keeps the stored one.
    register(client_id="my-app-2", client_secret="")
    with rt.db.session() as s:
        app = apps.get_tenant_app(s, acme.id, GCAL)
        assert app is not None and app.client_id == "my-app-2"
        assert apps.secret_hint(s, rt.vault, app) == hint
        _, creds, scope = apps.provider_and_client(s, rt.vault, GCAL, acme.id)
    assert scope == "tenant" and creds.client_secret == "s3cret-value"
    actions = [a.action for a in _audit(rt, acme.id)]
    assert actions == ["oauth_app.registered", "oauth_app.replaced"]
