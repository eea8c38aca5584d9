"""A canary API key stored through REST appears nowhere but in the ciphertext column."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from tests.helpers import api_routes, canary, twilio_credentials

ALLOWED = {("credentials", "ciphertext")}


def dump_database(engine) -> list[tuple[str, str, str]]:
    """Every (table, column, text value) in the database, except allowed columns."""
    out = []
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as c:
        for table in meta.sorted_tables:
            for row in c.execute(table.select()).mappings():
                for col, v in row.items():
                    if (table.name, col) in ALLOWED or v is None:
                        continue
                    text = v.decode("latin-1") if isinstance(v, bytes) else str(v)
                    out.append((table.name, col, text))
    return out


def test_canary_appears_nowhere(app, client, tenant, hub_runtime, caplog):
    caplog.set_level(logging.DEBUG)
    secret = canary()
    r = client.post(
        "/api/connections",
        headers=tenant.h("admin"),
        json={"integration": "twilio", "credentials": twilio_credentials(secret)},
    )
    assert r.status_code == 201
    cid = r.json()["id"]
    bodies = [r.text]
    # Failing writes that carry the canary must not echo it either.
    bodies.append(
        client.patch(
            f"/api/connections/{cid}",
            headers=tenant.h("admin"),
            json={"credentials": {"auth_token": secret, "bogus": secret}},
        ).text
    )
    bodies.append(
        client.post(
            "/api/connections",
            headers=tenant.h("admin"),
            json={"integration": "twilio", "credentials": {"x": secret}},
        ).text
    )
    bodies.append(
        client.post(
            "/api/connections",
            headers=tenant.h("admin"),
            json={"integration": secret, "credentials": {}},
        ).text
    )
    for route in api_routes(app):
        if "GET" in route.methods and "{" not in route.path:
            bodies.append(client.get(route.path, headers=tenant.h("admin")).text)
    bodies.append(client.get(f"/api/connections/{cid}", headers=tenant.h("admin")).text)
    bodies.append(client.get("/openapi.json").text)

    assert [b[:300] for b in bodies if secret in b] == []
    logged = "\n".join(r.getMessage() + " " + str(r.__dict__) for r in caplog.records)
    assert secret not in logged
    leaks = [(t, c) for t, c, v in dump_database(hub_runtime.db.engine) if secret in v]
    assert leaks == []
    # The ciphertext really is there and really is the canary, sealed.
    with hub_runtime.db.session() as s:
        from hub.connections.models import Connection

        conn = s.get(Connection, cid)
        assert hub_runtime.vault.read(s, tenant.id, conn.credential_id)["auth_token"] == secret
