"""Tokens: random, hashed, scoped, revocable; users with argon2id passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.accounts import service
from hub.accounts.models import ApiToken, User
from hub.core.errors import HubError
from hub.db.base import utcnow


def test_token_is_stored_only_as_hash(hub_runtime, tenant, client):
    with hub_runtime.db.session() as s:
        rows = list(s.scalars(select(ApiToken).where(ApiToken.tenant_id == tenant.id)))
    assert len(rows) == 3
    stored = " ".join(f"{r.token_hash} {r.prefix} {r.name}" for r in rows)
    for raw in (tenant.admin, tenant.ops, tenant.agent):
        assert raw not in stored
        assert service.hash_token(raw) in stored
    assert client.get("/api/me", headers=tenant.h("agent")).json()["kind"] == "agent"


def test_tokens_are_random_and_long(hub_runtime, tenant):
    with hub_runtime.db.session() as s:
        raws = {service.create_token(s, tenant.id, "agent")[1] for _ in range(50)}
    assert len(raws) == 50
    assert all(len(r) >= 40 and r.startswith("hub_agent_") for r in raws)


def test_missing_unknown_and_revoked_tokens_get_401(client, tenant):
    assert client.get("/api/connections").status_code == 401
    r = client.get("/api/connections", headers={"Authorization": "Bearer hub_agent_nope"})
    assert r.status_code == 401
    body = r.json()["error"]
    assert body["kind"] == "unauthenticated" and "hub tokens create" in body["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")

    created = client.post(
        "/api/tokens", json={"kind": "agent", "name": "tmp"}, headers=tenant.h("admin")
    )
    assert created.status_code == 201
    raw, tok_id = created.json()["token"], created.json()["id"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert client.delete(f"/api/tokens/{tok_id}", headers=tenant.h("admin")).status_code == 204
    assert client.get("/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    listed = client.get("/api/tokens", headers=tenant.h("admin")).json()
    assert raw not in str(listed)
    assert next(t for t in listed if t["id"] == tok_id)["revoked_at"] is not None


def test_token_kinds_are_enforced(client, tenant):
    r = client.post(
        "/api/connections",
        json={"integration": "twilio", "credentials": {}},
        headers=tenant.h("agent"),
    )
    assert r.status_code == 403 and r.json()["error"]["kind"] == "forbidden"
    assert client.get("/api/tokens", headers=tenant.h("ops")).status_code == 403
    assert client.get("/api/audit", headers=tenant.h("agent")).status_code == 403


def test_last_used_is_recorded_and_use_audited(client, tenant, hub_runtime):
    client.get("/api/me", headers=tenant.h("ops"))
    with hub_runtime.db.session() as s:
        tok = s.scalar(
            select(ApiToken).where(ApiToken.tenant_id == tenant.id, ApiToken.kind == "ops")
        )
        assert tok.last_used_at is not None
    audit = client.get(
        "/api/audit", params={"action": "token.used"}, headers=tenant.h("admin")
    ).json()["data"]
    assert any(a["target"] == tok.id for a in audit)


def test_users_hash_passwords_with_argon2id(hub_runtime, tenant):
    with hub_runtime.db.session() as s:
        u = service.create_user(
            s, tenant.id, "Owner@Example.com", "correct horse battery", role="owner"
        )
        assert u.password_hash.startswith("$argon2id$")
        assert "correct horse" not in u.password_hash
    with hub_runtime.db.session() as s:
        assert service.authenticate_user(s, "owner@example.com", "correct horse battery")
        assert service.authenticate_user(s, "owner@example.com", "wrong password!!") is None
        assert s.scalar(select(User).where(User.id == u.id)).last_login_at is not None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"role": "root"}, "role"),
        ({"password": "short"}, "password"),
    ],
)
def test_user_validation_names_the_field(hub_runtime, tenant, kwargs, field):
    args = {"email": "x@example.com", "password": "long enough password", "role": "member"}
    args.update(kwargs)
    with hub_runtime.db.session() as s, pytest.raises(HubError) as e:
        service.create_user(s, tenant.id, **args)
    assert e.value.details["field"] == field


def test_tenant_slug_rules(hub_runtime):
    with hub_runtime.db.session() as s, pytest.raises(HubError) as e:
        service.create_tenant(s, "Bad Slug!")
    assert e.value.kind == "invalid_request"


def test_a_token_cannot_be_created_already_expired(client, tenant):
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    r = client.post(
        "/api/tokens", json={"kind": "agent", "expires_at": past}, headers=tenant.h("admin")
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "expires_at"
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    ok = client.post(
        "/api/tokens", json={"kind": "agent", "expires_at": soon}, headers=tenant.h("admin")
    )
    assert ok.status_code == 201, ok.text
