"""The capabilities document: built from catalog data, and from the tables as they change."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import hub.schema  # noqa: F401 - every table, for create_all
from hub.core.errors import HubError
from hub.registry import service
from hub.registry.capabilities import build_capabilities
from hub.registry.spec import Catalog, ProviderSpec
from hub.registry.sync import sync_catalog
from tests.registry.conftest import EXPECTED_TOOLS

# ---------------------------------------------------------------- capabilities (pure)


def test_capabilities_available_only_where_connected(catalog: Catalog) -> None:
    doc = build_capabilities(
        catalog.integrations,
        catalog.tools,
        {"twilio", "mailgun"},
        domains={d.name: d.description for d in catalog.domains},
    )
    assert doc["success"] is True
    data = doc["data"]
    assert data["version"] == "1.0" and data["generated_from"] == "registry"
    actions = {a["name"]: (d["domain"], a) for d in data["domains"] for a in d["actions"]}
    names = [a["name"] for d in data["domains"] for a in d["actions"]]
    assert sorted(names) == EXPECTED_TOOLS  # every tool exactly once
    # The hub's own Save & Test tool is in the catalog but never offered to agents.
    assert any(t.internal for t in catalog.tools) and "verify_credentials" not in actions
    assert "connections" not in {d["domain"] for d in data["domains"]}
    for tool in (t for t in catalog.tools if not t.internal):
        domain, action = actions[tool.name]
        assert domain == tool.domain
        assert action["parameters"] == tool.input_schema
        assert action["permission"] == tool.permission
    assert [a["name"] for a in data["domains"][0]["actions"]] == sorted(
        a["name"] for a in data["domains"][0]["actions"]
    )
    available = {name for name, (_, a) in actions.items() if a["available"]}
    assert available == {"send_sms", "send_email"}
    email = actions["send_email"][1]
    assert {p["integration"]: p["connected"] for p in email["providers"]} == {
        "sendgrid": False,
        "mailgun": True,
    }
    assert {t["type"] for t in data["data_types"]} == {
        "integrations", "connections", "tools", "runs", "authorizations", "events", "audit",
    }  # fmt: skip
    twilio = next(i for i in data["integrations"] if i["slug"] == "twilio")
    assert twilio == {
        "slug": "twilio", "name": "Twilio", "category": "communication",
        "status": "available", "auth_type": "api_key", "connected": True,
        "tools": ["send_sms"],
    }  # fmt: skip
    # Nothing connected: nothing available.
    none = build_capabilities(catalog.integrations, catalog.tools, None)
    assert not any(a["available"] for d in none["data"]["domains"] for a in d["actions"])


def test_capabilities_domain_filter(catalog: Catalog) -> None:
    doc = build_capabilities(catalog.integrations, catalog.tools, set(), domain="payments")
    assert [d["domain"] for d in doc["data"]["domains"]] == ["payments"]
    assert {i["slug"] for i in doc["data"]["integrations"]} == {"stripe", "square"}
    with pytest.raises(HubError) as exc:
        build_capabilities(catalog.integrations, catalog.tools, set(), domain="paymnets")
    assert exc.value.kind == "invalid_request"
    assert exc.value.details["field"] == "domain"
    assert "payments" in exc.value.details["allowed"]


def test_capabilities_for_a_thousand_integrations(catalog: Catalog) -> None:
    base = catalog.integration("twilio")
    sms = catalog.tool("send_sms")
    assert base is not None and sms is not None
    integrations = [base.model_copy(update={"slug": f"vendor_{n:04d}"}) for n in range(1000)]
    tools = [
        sms.model_copy(
            update={
                "name": f"tool_{n:03d}",
                "domain": f"domain_{n % 20}",
                "providers": [
                    ProviderSpec(integration=f"vendor_{k:04d}", workflow="x/y", default=k == n)
                    for k in range(n, 1000, 100)
                ],
            }
        )
        for n in range(100)
    ]
    doc = build_capabilities(integrations, tools, {f"vendor_{k:04d}" for k in range(0, 1000, 7)})
    assert len(doc["data"]["integrations"]) == 1000
    assert sum(len(d["actions"]) for d in doc["data"]["domains"]) == 100
    assert len(doc["data"]["domains"]) == 20


def test_capabilities_from_the_database_follow_changes(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        # Deploy sets a binding's live version; a connected tool whose workflow is not
        # deployed is not available (agents are not offered it), with the reason.
        service.set_binding_version(s, "charge_card", "stripe", 1)
        s.commit()
        first = service.capabilities(s, {"stripe"}, domain="payments")
        actions = {a["name"]: a for a in first["data"]["domains"][0]["actions"]}
        assert actions["charge_card"]["available"] is True
        assert actions["create_payment_link"]["available"] is False
        assert "not deployed" in actions["create_payment_link"]["unavailable_reason"]
        assert service.capabilities(s, {"stripe"})["data"]["revision"] == first["data"]["revision"]
        first["data"]["domains"][0]["actions"][0]["parameters"]["mutated"] = True  # harmless

        tools = [
            t.model_copy(update={"title": "Charge a card on file"})
            if t.name == "charge_card"
            else t
            for t in catalog.tools
        ]
        sync_catalog(s, catalog.model_copy(update={"tools": tools}))
        s.commit()
        second = service.capabilities(s, set(), domain="payments")
        assert second["data"]["revision"] != first["data"]["revision"]
        titles = {a["name"]: a["title"] for a in second["data"]["domains"][0]["actions"]}
        assert titles["charge_card"] == "Charge a card on file"
        assert not any(
            "mutated" in a["parameters"] for a in second["data"]["domains"][0]["actions"]
        )
        assert not any(a["available"] for a in second["data"]["domains"][0]["actions"])
