"""MCP servers that need OAuth (issue 9 item 7), end to end against parts nobody here wrote:
a real oidc-provider as the authorization server, and a server built on the MCP SDK's own
resource-server support (RFC 9728 metadata, 401 with the hint, tokens checked by
introspection and bound to its URL). The hub registers itself there (RFC 7591) or uses a
pre-registered client, sends an admin to consent with PKCE and the resource indicator,
keeps the tokens in the vault, refreshes once for many concurrent calls, and stops offering
the tools when the grant is revoked until an admin authorizes again."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from hub.federation.authorize import (
    CALLBACK_PATH,
    LEAD_S,
    callback_uri,
    client_metadata,
    refresh_expiring,
)
from hub.federation.models import McpServer
from hub.runtime import Runtime
from hub.sandbox.authserver import AuthServer, OAuthClient
from tests.conftest import TenantKit, create_tenant_kit
from tests.connections.oauth_kit import path_and_query, query_of
from tests.federation.protected import Introspector, protected_server
from tests.federation.test_federation import approve, mcp, register, tools_of

SCOPE = "mcp:tools"


@pytest.fixture(scope="module")
def issuer(hub_runtime: Runtime) -> Iterator[AuthServer]:
    """oidc-provider with a client for the MCP server's introspection and one the tests
    pre-register for the hub; the hub registers its own through RFC 7591 otherwise."""
    cb = callback_uri(hub_runtime.settings.base_url)
    clients = [
        OAuthClient("mcp-resource", secrets.token_urlsafe(24), ["http://127.0.0.1/none"]),
        OAuthClient("hub-pre", secrets.token_urlsafe(24), [cb], rotate=True),
    ]
    server = AuthServer(clients, scopes=[SCOPE], access_ttl=300).start()
    yield server
    server.stop()


@pytest.fixture
def secured(issuer: AuthServer) -> Iterator[tuple[str, Introspector]]:
    """The protected MCP server; yields its URL and its token check."""
    with protected_server(issuer, issuer.clients[0]) as got:
        yield got


def grant_of(rt: Runtime, server_id: str) -> dict[str, str]:
    """The server's OAuth fields as the vault holds them."""
    with rt.db.session() as s:
        m = s.get(McpServer, server_id)
        assert m is not None and m.credential_id
        return dict(rt.vault.read(s, m.tenant_id, m.credential_id))


def put_grant(rt: Runtime, server_id: str, fields: dict[str, str]) -> None:
    """Overwrite the stored grant (an expiry, as another worker would see it)."""
    with rt.db.session() as s:
        m = s.get(McpServer, server_id)
        assert m is not None and m.credential_id
        rt.vault.put(
            s,
            tenant_id=m.tenant_id,
            owner_id=m.id,
            kind="oauth_token",
            fields=fields,
            credential_id=m.credential_id,
        )


def authorize(hub: str, rt: Runtime, t: TenantKit, sid: str, login: str) -> dict[str, Any]:
    """Start, consent on oidc-provider's pages, come back through the hub's callback."""
    r = httpx.post(f"{hub}/api/mcp-servers/{sid}/oauth/start", headers=t.h("admin"), timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["redirect_uri"] == callback_uri(rt.settings.base_url)
    back = AuthServer.approve(out["authorize_url"], login, stop_at=out["redirect_uri"])
    done = httpx.get(hub + path_and_query(back), timeout=60)
    assert done.status_code == 200, (done.text, query_of(back).get("error_description"))
    return {"start": out, "back": back, "done": done.json()}


def call(hub: str, t: TenantKit, name: str, args: dict[str, Any]) -> Any:
    async def go() -> Any:
        async with mcp(hub, t.agent) as c:
            return await c.call_tool(name, args)

    return anyio.run(go)


def test_dynamic_registration_consent_call_refresh_and_revocation(
    hub_url: str, hub_runtime: Runtime, issuer: AuthServer, secured: tuple[str, Introspector]
) -> None:
    url, check = secured
    t = create_tenant_kit(hub_runtime, "moa")
    r = register(hub_url, t, name="secure", url=url, auth={"type": "oauth"})
    assert r.status_code == 201, r.text
    srv = r.json()
    sid = srv["id"]
    # Nothing is listed before consent, and the answer says how to get it.
    assert srv["health"] == "needs_auth" and srv["refresh"] is None
    assert srv["auth"]["authorized"] is False
    assert srv["auth"]["authorize"] == f"POST /api/mcp-servers/{sid}/oauth/start"

    got = authorize(hub_url, hub_runtime, t, sid, "admin@moa.test")
    q = query_of(got["start"]["authorize_url"])
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["resource"] == url  # RFC 8707: the token is bound to this server
    assert q["redirect_uri"] == callback_uri(hub_runtime.settings.base_url)
    grant = grant_of(hub_runtime, sid)
    # The hub registered itself (RFC 7591): the client id is the AS's, not one we gave.
    assert grant["client_kind"] == "dcr" and q["client_id"] == grant["client_id"]
    assert grant["access_token"] and grant["refresh_token"] and grant["expires_at"]
    assert got["done"]["refresh"]["ok"] is True, got["done"]
    assert sorted(got["done"]["refresh"]["new"]) == ["echo", "whoami"]

    # The state was single use: replaying the callback is refused, and nothing changes.
    again = httpx.get(hub_url + path_and_query(got["back"]), timeout=30)
    assert again.status_code == 422 and "already used" in again.json()["error"]["message"]
    assert grant_of(hub_runtime, sid)["access_token"] == grant["access_token"]

    approve(hub_url, t, sid, "whoami", "unrestricted")
    approve(hub_url, t, sid, "echo", "unrestricted")
    res = call(hub_url, t, "secure__whoami", {})
    assert not res.is_error, res
    assert res.structured_content["data"]["result"] == "subject=admin@moa.test"
    # The server saw the OAuth access token, never the agent's hub token.
    assert check.seen[-1] == grant["access_token"] and t.agent not in check.seen

    # The access token expires: twenty concurrent calls make one refresh at the AS.
    fields = grant_of(hub_runtime, sid)
    fields["expires_at"] = str(time.time() - 1)
    put_grant(hub_runtime, sid, fields)
    before = issuer.counts()["refresh"]

    async def many() -> list[Any]:
        async with mcp(hub_url, t.agent) as c:
            out: list[Any] = [None] * 20

            async def one(i: int) -> None:
                out[i] = await c.call_tool("secure__echo", {"text": f"n{i}"})

            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(one, i)
            return out

    results = anyio.run(many)
    assert issuer.counts()["refresh"] - before == 1
    assert all(not x.is_error for x in results), [x for x in results if x.is_error][:1]
    rotated = grant_of(hub_runtime, sid)
    assert rotated["access_token"] != grant["access_token"]
    assert float(rotated["expires_at"]) > time.time() + 60

    # The scheduler's job refreshes a token that would expire within its lead time, ahead of
    # any call; a token with longer to live is left alone.
    before = issuer.counts()["refresh"]
    assert refresh_expiring(hub_runtime.db, hub_runtime.vault, hub_runtime.settings) == 0
    soon = grant_of(hub_runtime, sid)
    soon["expires_at"] = str(time.time() + LEAD_S / 2)
    soon["refreshed_at"] = str(time.time() - 3600)  # an hour-long token, nearly done
    put_grant(hub_runtime, sid, soon)
    assert refresh_expiring(hub_runtime.db, hub_runtime.vault, hub_runtime.settings) == 1
    assert issuer.counts()["refresh"] - before == 1
    rotated = grant_of(hub_runtime, sid)
    assert float(rotated["expires_at"]) > time.time() + LEAD_S / 2

    # No token anywhere an admin, an agent or the audit can read.
    tokens = [grant["access_token"], rotated["access_token"], rotated["refresh_token"]]
    tokens += [grant.get("client_secret") or "", grant["refresh_token"]]
    detail = httpx.get(f"{hub_url}/api/mcp-servers/{sid}", headers=t.h("admin")).text
    audit = httpx.get(f"{hub_url}/api/audit?limit=200", headers=t.h("admin")).text
    runs = httpx.get(f"{hub_url}/api/runs?limit=50", headers=t.h("admin")).text
    listed = json.dumps([x.model_dump(mode="json") for x in results])
    for text in (detail, audit, runs, listed, json.dumps(got["done"])):
        for tok in filter(None, tokens):
            assert tok not in text
    actions = {e["action"] for e in json.loads(audit)["data"]}
    assert {"mcp_server.oauth_started", "mcp_server.authorized"} <= actions

    # The grant is revoked at the AS: the next refresh is refused, the server waits for an
    # admin, its tools are withdrawn, and a call says why (nothing was sent).
    httpx.post(
        issuer.revoke_url,
        data={"token": rotated["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(rotated["client_id"], rotated["client_secret"]),
        timeout=5,
    )
    rotated["expires_at"] = str(time.time() - 1)
    put_grant(hub_runtime, sid, rotated)
    sent = len(check.seen)
    res = call(hub_url, t, "secure__echo", {"text": "after revoke"})
    assert res.is_error and res.structured_content["error"]["kind"] == "not_connected"
    assert "authorize the server again" in res.structured_content["error"]["message"]
    assert len(check.seen) == sent, "a call went out without a valid grant"
    assert not any(n.startswith("secure__") for n in tools_of(hub_url, t))
    srv = httpx.get(f"{hub_url}/api/mcp-servers/{sid}", headers=t.h("admin")).json()
    assert srv["health"] == "needs_auth" and srv["auth"]["authorized"] is False

    # An admin authorizes again (the same registered client is reused): callable again.
    authorize(hub_url, hub_runtime, t, sid, "admin@moa.test")
    assert grant_of(hub_runtime, sid)["client_id"] == grant["client_id"]
    res = call(hub_url, t, "secure__echo", {"text": "back"})
    assert not res.is_error and res.structured_content["data"]["result"] == "back"


def test_pre_registered_client_and_tenancy(
    hub_url: str, hub_runtime: Runtime, issuer: AuthServer, secured: tuple[str, Introspector]
) -> None:
    url, _ = secured
    pre = issuer.clients[1]
    t = create_tenant_kit(hub_runtime, "mob")
    other = create_tenant_kit(hub_runtime, "moc")
    r = register(
        hub_url,
        t,
        name="pre",
        url=url,
        auth={"type": "oauth", "client_id": pre.client_id, "client_secret": pre.client_secret},
    )
    assert r.status_code == 201, r.text
    assert pre.client_secret not in r.text
    sid = r.json()["id"]
    # Another tenant can neither start nor see it.
    r = httpx.post(f"{hub_url}/api/mcp-servers/{sid}/oauth/start", headers=other.h("admin"))
    assert r.status_code == 404
    got = authorize(hub_url, hub_runtime, t, sid, "ops@mob.test")
    assert query_of(got["start"]["authorize_url"])["client_id"] == pre.client_id
    assert grant_of(hub_runtime, sid)["client_kind"] == "pre"
    assert got["done"]["refresh"]["ok"] is True
    approve(hub_url, t, sid, "whoami", "unrestricted")
    res = call(hub_url, t, "pre__whoami", {})
    assert res.structured_content["data"]["result"] == "subject=ops@mob.test"
    assert not any(n.startswith("pre__") for n in tools_of(hub_url, other))


def test_callback_refusals(hub_url: str, hub_runtime: Runtime) -> None:
    """A missing or unknown state is refused with what to do; so is an agent starting."""
    r = httpx.get(f"{hub_url}{CALLBACK_PATH}?code=x")
    assert r.status_code == 422 and "no state" in r.json()["error"]["message"]
    r = httpx.get(f"{hub_url}{CALLBACK_PATH}?code=x&state=forged")
    assert r.status_code == 422 and "unknown" in r.json()["error"]["message"]
    t = create_tenant_kit(hub_runtime, "mod")
    r = register(hub_url, t, name="plain", url="http://127.0.0.1:9/mcp", auth={"type": "oauth"})
    sid = r.json()["id"]
    r = httpx.post(f"{hub_url}/api/mcp-servers/{sid}/oauth/start", headers=t.h("agent"))
    assert r.status_code == 403


def test_client_metadata_document(hub_url: str, hub_runtime: Runtime) -> None:
    """The hub's client ID metadata document names itself and the exact callback."""
    r = httpx.get(f"{hub_url}/oauth/mcp/client-metadata.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc == client_metadata(hub_runtime.settings.base_url)
    assert doc["client_id"].endswith("/oauth/mcp/client-metadata.json")
    assert doc["redirect_uris"] == [callback_uri(hub_runtime.settings.base_url)]
    assert doc["token_endpoint_auth_method"] == "none"
