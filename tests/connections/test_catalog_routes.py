"""REST: the catalog as one tenant sees it (hub.connections.catalog_routes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import hub.schema  # noqa: F401 - every table, for create_all
from hub.accounts.auth import HttpAuthenticator
from hub.accounts.service import create_tenant, create_token
from hub.connections.catalog_routes import router
from hub.core.handlers import install_handlers
from hub.core.settings import repo_path
from hub.db.base import Base
from hub.db.engine import Database
from hub.registry.catalog import load_catalog
from hub.registry.spec import Catalog
from hub.registry.sync import sync_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The shipped catalog."""
    return load_catalog(repo_path("registry_seed"))


@pytest.fixture
def client(tmp_path: Path, catalog: Catalog) -> Iterator[tuple[TestClient, str]]:
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    Base.metadata.create_all(db.engine)
    with db.session() as s:
        sync_catalog(s, catalog)
        tenant = create_tenant(s, "acme")
        _, raw = create_token(s, tenant.id, "agent")
    app = FastAPI()
    app.state.db = db
    app.state.authenticator = HttpAuthenticator(db)
    app.include_router(router)

    install_handlers(app)  # the app's error contract

    with TestClient(app) as c:
        yield c, raw
    db.dispose()


def test_routes(client: tuple[TestClient, str]) -> None:
    c, raw = client
    auth = {"Authorization": f"Bearer {raw}"}
    assert c.get("/api/integrations").status_code == 401

    listing = c.get("/api/integrations", params={"category": "payments"}, headers=auth)
    assert listing.status_code == 200
    body = listing.json()
    assert body["count"] == 2
    stripe = next(i for i in body["integrations"] if i["slug"] == "stripe")
    assert stripe["connected"] is False and "charge_card" in stripe["tools"]

    bad = c.get("/api/integrations", params={"status": "live"}, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["error"]["kind"] == "invalid_request"
    assert bad.json()["error"]["field"] == "status"
    assert "available" in bad.json()["error"]["allowed"]

    detail = c.get("/api/integrations/twilio", headers=auth).json()
    assert [f["name"] for f in detail["credential_fields"]][:2] == ["account_sid", "auth_token"]
    assert detail["webhooks"]["signature"] == "twilio_hmac_sha1"
    missing = c.get("/api/integrations/twillio", headers=auth)
    assert missing.status_code == 404 and "twilio" in missing.json()["error"]["message"]

    tools = c.get("/api/tools", params={"domain": "payments"}, headers=auth).json()
    assert {t["name"] for t in tools["tools"]} == {
        "charge_card", "refund_payment", "create_payment_link", "send_invoice",
    }  # fmt: skip
    sms = c.get("/api/tools/send_sms", headers=auth).json()
    assert sms["input_schema"]["required"] == ["to", "body"]
    assert sms["providers"] == [
        {
            "integration": "twilio",
            "integration_status": "available",
            "workflow": "twilio/send_sms",
            "is_default": True,
            "live_version": None,
            "connected": False,
        }
    ]

    caps = c.get("/api/capabilities", params={"domain": "maps"}, headers=auth).json()
    assert caps["success"] is True
    assert [d["domain"] for d in caps["data"]["domains"]] == ["maps"]
    assert caps["data"]["domains"][0]["actions"][0]["name"] == "geocode_address"
    assert c.get("/api/capabilities", params={"domain": "x"}, headers=auth).status_code == 422

    spec = c.get("/openapi.json").json()
    assert {"CapabilitiesResponse", "IntegrationDetail", "ToolDetail"} <= set(
        spec["components"]["schemas"]
    )
