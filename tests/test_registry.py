"""Registry: the shipped catalog, the linter, sync into SQL, capabilities and the routes."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import hub.schema  # noqa: F401 - every table, for create_all
from hub.accounts.auth import HttpAuthenticator
from hub.accounts.service import create_tenant, create_token
from hub.connections.catalog_routes import router
from hub.core.errors import HubError
from hub.core.settings import repo_path
from hub.db.base import Base
from hub.db.engine import Database
from hub.registry import service
from hub.registry.capabilities import build_capabilities
from hub.registry.catalog import CatalogError, load_catalog
from hub.registry.lint_cmd import lint, registry_lint
from hub.registry.models import Integration, Tool, ToolProvider
from hub.registry.spec import (
    AUTH_TYPES,
    CATEGORIES,
    PERMISSIONS,
    STATUSES,
    Catalog,
    IntegrationSpec,
    ProviderSpec,
    ToolSpec,
)
from hub.registry.sync import sync_catalog

SEED = repo_path("registry_seed")


EXPECTED_INTEGRATIONS = sorted(
    [
        "twilio", "elevenlabs", "deepgram", "openai_whisper", "sendgrid", "mailgun",
        "anthropic", "google_gemini", "higgsfield", "stripe", "square", "dropbox_sign",
        "docusign", "meta", "youtube", "google_business_profile", "tiktok",
        "contractor_website", "meta_ads", "google_ads", "google_maps", "mapbox",
        "marketing_boost", "gift_card_vendor", "google_calendar", "apple_calendar",
        "outlook_calendar", "hubspot", "gohighlevel", "notion", "monday", "slack",
        "quickbooks", "xero", "google_drive",
    ]
)  # fmt: skip
EXPECTED_TOOLS = sorted(
    [
        "send_sms", "send_email", "charge_card", "refund_payment", "create_payment_link",
        "post_to_social", "send_contract", "geocode_address", "upload_video",
        "create_calendar_event", "list_calendar_events", "synthesize_speech",
        "transcribe_audio", "send_slack_message", "create_crm_contact", "create_notion_page",
        "create_monday_item", "create_invoice", "send_reward", "upload_file", "send_invoice",
        "update_ad_budget",
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(SEED)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


# ---------------------------------------------------------------- the shipped catalog


def test_shipped_catalog_loads_with_zero_problems(catalog: Catalog) -> None:
    assert lint(SEED) == []
    assert sorted(i.slug for i in catalog.integrations) == EXPECTED_INTEGRATIONS
    assert sorted(t.name for t in catalog.tools) == EXPECTED_TOOLS
    # Every tool domain has a description (capabilities shows it).
    assert {d.name for d in catalog.domains} == {t.domain for t in catalog.tools}


def test_statuses_follow_the_seeds(catalog: Catalog) -> None:
    by_status: dict[str, set[str]] = {}
    for i in catalog.integrations:
        by_status.setdefault(i.status, set()).add(i.slug)
    assert by_status["available"] == {
        "twilio", "sendgrid", "mailgun", "google_maps", "stripe", "square",
    }  # fmt: skip
    assert {"tiktok", "apple_calendar", "gift_card_vendor"} <= by_status["coming_soon"]


def test_schema_enums_equal_the_code_enums() -> None:
    integ = json.loads((SEED / "schema/integration.schema.json").read_text())
    tool = json.loads((SEED / "schema/tool.schema.json").read_text())
    props = integ["$defs"]["integration"]["properties"]
    assert tuple(props["category"]["enum"]) == CATEGORIES
    assert tuple(props["auth_type"]["enum"]) == AUTH_TYPES
    assert tuple(props["status"]["enum"]) == STATUSES
    assert tuple(tool["$defs"]["tool"]["properties"]["permission"]["enum"]) == PERMISSIONS


def test_every_tool_schema_is_valid_json_schema(catalog: Catalog) -> None:
    for tool in catalog.tools:
        for schema in (tool.input_schema, tool.output_schema):
            Draft202012Validator.check_schema(schema)
            assert schema["type"] == "object"
            assert schema["additionalProperties"] is False


def _errors(schema: dict[str, Any], value: dict[str, Any]) -> list[str]:
    v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [e.message for e in v.iter_errors(value)]


def test_tool_schemas_accept_good_and_refuse_bad_arguments(catalog: Catalog) -> None:
    sms = catalog.tool("send_sms")
    charge = catalog.tool("charge_card")
    assert sms is not None and charge is not None
    assert _errors(sms.input_schema, {"to": "+14155550123", "body": "Hi"}) == []
    assert _errors(sms.input_schema, {"to": "4155550123", "body": "Hi"})
    assert _errors(sms.input_schema, {"to": "+14155550123", "body": "Hi", "x": 1})
    good = {"amount": 1999, "currency": "USD", "customer_id": "cus_1", "payment_method_id": "pm_1"}
    assert _errors(charge.input_schema, good) == []
    assert _errors(charge.input_schema, {**good, "amount": 0})
    assert _errors(charge.input_schema, {**good, "amount": 19.99})
    assert _errors(charge.input_schema, {**good, "currency": "usd"})


def test_permissions_and_vendor_idempotency(catalog: Catalog) -> None:
    perm = {t.name: t.permission for t in catalog.tools}
    money = [
        "charge_card",
        "refund_payment",
        "create_payment_link",
        "send_invoice",
        "create_invoice",
    ]
    assert all(perm[name] != "unrestricted" for name in money)
    for name in ("post_to_social", "send_reward", "update_ad_budget"):
        assert perm[name] == "requires_authorization"
    assert perm["geocode_address"] == "unrestricted"
    for tool in catalog.tools:
        if tool.name in ("charge_card", "refund_payment"):
            assert tool.idempotent_vendor
            assert {p.integration for p in tool.providers} == {"stripe", "square"}
        assert sum(p.default for p in tool.providers) == 1


def test_credential_fields_match_the_vendors(catalog: Catalog) -> None:
    def field(slug: str, name: str) -> Any:
        integ = catalog.integration(slug)
        assert integ is not None
        return next(f for f in integ.credential_fields if f.name == name)

    sid = field("twilio", "account_sid")
    assert not sid.secret and sid.pattern == "^AC[0-9a-f]{32}$"
    assert field("twilio", "auth_token").secret
    key = field("stripe", "secret_key")
    assert key.secret and re.search(key.pattern, "sk_test_" + "a1" * 12)
    assert re.search(key.pattern, "rk_live_" + "a1" * 12)
    assert not re.search(key.pattern, "pk_live_" + "a1" * 12)
    assert {f.name for f in catalog.integration("square").credential_fields} >= {  # type: ignore[union-attr]
        "access_token", "location_id",
    }  # fmt: skip
    assert field("mailgun", "region").options == ["us", "eu"]
    assert re.search(field("sendgrid", "api_key").pattern, "SG." + "a" * 22 + "." + "b" * 43)
    assert field("google_maps", "api_key").secret
    for integ in catalog.integrations:
        for f in integ.credential_fields:
            assert not (f.secret and f.example), f"{integ.slug}.{f.name} leaks an example"
        if integ.auth_type == "oauth2":
            assert integ.oauth is not None and integ.oauth.token_url.startswith("https://")


# ---------------------------------------------------------------- the linter


def _edit_yaml(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(SEED, folder)
    integ, tools = folder / "integrations", folder / "tools"

    def bad_auth_type(d: Any) -> None:
        d["integrations"][0]["auth_type"] = "magic"  # stripe

    def bad_regex(d: Any) -> None:
        d["integrations"][0]["credential_fields"][0]["pattern"] = "^AC[0-9a-f{32}$"  # twilio

    def duplicate_slug(d: Any) -> None:
        d["integrations"].append(dict(d["integrations"][0]))  # google_maps again

    def missing_entry_field(d: Any) -> None:
        del d["integrations"][1]["setup_instructions"]  # mailgun

    def unknown_provider(d: Any) -> None:
        d["tools"][0]["providers"][1].update(
            integration="mapquest", workflow="mapquest/geocode_address"
        )

    def two_defaults(d: Any) -> None:
        d["tools"][0]["providers"][1]["default"] = True  # send_email via mailgun too

    def bad_input_schema(d: Any) -> None:
        d["tools"][0]["input_schema"]["properties"]["to"]["type"] = "phone"  # send_sms

    def missing_file_field(d: Any) -> None:
        del d["description"]

    _edit_yaml(integ / "payments.yaml", bad_auth_type)
    _edit_yaml(integ / "communication.yaml", bad_regex)
    _edit_yaml(integ / "maps.yaml", duplicate_slug)
    _edit_yaml(integ / "email.yaml", missing_entry_field)
    _edit_yaml(tools / "maps.yaml", unknown_provider)
    _edit_yaml(tools / "email.yaml", two_defaults)
    _edit_yaml(tools / "messaging.yaml", bad_input_schema)
    _edit_yaml(tools / "voice.yaml", missing_file_field)
    return folder


def test_broken_catalog_names_file_path_and_reason(broken: Path) -> None:
    problems = lint(broken)
    found = {(p.file, p.path): p.reason for p in problems}
    expected = {
        (
            "integrations/payments.yaml",
            "/integrations/0/auth_type",
        ): "must be one of: api_key, oauth2",
        (
            "integrations/communication.yaml",
            "/integrations/0/credential_fields/0/pattern",
        ): "invalid regular expression",
        ("integrations/maps.yaml", "/integrations/2/slug"): "duplicate slug 'google_maps'",
        (
            "integrations/email.yaml",
            "/integrations/1/setup_instructions",
        ): "required field 'setup_instructions' is missing",
        ("tools/maps.yaml", "/tools/0/providers/1/integration"): "unknown integration 'mapquest'",
        # mapbox still lists geocode_address, which no longer names it as a provider.
        ("integrations/maps.yaml", "/integrations/1/tools/0"): "has no provider for 'mapbox'",
        ("tools/email.yaml", "/tools/0/providers/1/default"): "more than one default provider",
        (
            "tools/messaging.yaml",
            "/tools/0/input_schema/properties/to/type",
        ): "invalid JSON Schema",
        ("tools/voice.yaml", "/description"): "required field 'description' is missing",
    }
    assert set(found) == set(expected)
    for where, reason in expected.items():
        assert reason in found[where], (where, found[where])
    assert all(p.line for p in problems)  # every one points at a line too

    with pytest.raises(CatalogError) as exc:
        load_catalog(broken)
    assert exc.value.problems == problems


def test_yaml_syntax_error_is_reported_alone(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    shutil.copytree(SEED, folder)
    path = folder / "integrations/maps.yaml"
    path.write_text(path.read_text() + "  - slug: [unclosed\n")
    problems = lint(folder)
    assert len(problems) == 1
    assert problems[0].file == "integrations/maps.yaml"
    assert problems[0].reason.startswith("YAML error")
    assert problems[0].line is not None


def test_conventions_route_by_and_descriptions(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    shutil.copytree(SEED, folder)

    def edit(d: Any) -> None:
        d["tools"][0]["providers"][2]["route_values"] = ["facebook"]  # tiktok steals facebook
        del d["tools"][0]["input_schema"]["properties"]["text"]["description"]

    _edit_yaml(folder / "tools/social.yaml", edit)
    found = {(p.path, p.reason) for p in lint(folder)}
    assert found == {
        ("/tools/0/providers/2/route_values", "'facebook' is already routed by providers/0"),
        (
            "/tools/0/input_schema/properties/text",
            "property 'text' needs a description (the LLM reads it)",
        ),
    }


def test_lint_command_prints_problems_and_exits_1(broken: Path) -> None:
    app = typer.Typer()
    app.command()(registry_lint)
    runner = CliRunner()
    bad = runner.invoke(app, [str(broken)])
    assert bad.exit_code == 1
    assert "integrations/payments.yaml:/integrations/0/auth_type: must be one of" in bad.output
    assert "9 problem(s) in 8 file(s)" in bad.output
    good = runner.invoke(app, [str(SEED)])
    assert good.exit_code == 0, good.output
    assert "0 problems: 35 integrations, 22 tools" in good.output


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
    for tool in catalog.tools:
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
        "integrations", "connections", "tools", "runs", "authorizations", "audit",
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


# ---------------------------------------------------------------- sync into SQL


def test_sync_is_idempotent(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        first = sync_catalog(s, catalog)
        s.commit()
        assert len(first.integrations.inserted) == 35
        assert len(first.tools.inserted) == 22
        n_bindings = sum(len(t.providers) for t in catalog.tools)
        assert len(first.providers.inserted) == n_bindings
        second = sync_catalog(s, catalog)
        s.commit()
        assert second.changes == 0
        assert second.integrations.unchanged == 35 and second.tools.unchanged == 22
        row = s.get(Integration, "twilio")
        assert row is not None and row.definition["credential_fields"][0]["name"] == "account_sid"
        assert row.source == "seed" and len(row.catalog_hash) == 64


def test_changing_one_tool_updates_only_it(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        s.commit()
        before = {t.name: t.updated_at for t in s.scalars(select(Tool))}
        binding = s.scalar(select(ToolProvider).where(ToolProvider.workflow == "twilio/send_sms"))
        assert binding is not None
        binding.live_version = 3  # as deploy would
        s.commit()

        tools = [
            t.model_copy(update={"description": t.description + " Changed."})
            if t.name == "send_sms"
            else t
            for t in catalog.tools
        ]
        report = sync_catalog(s, catalog.model_copy(update={"tools": tools}))
        s.commit()
        assert report.tools.updated == ["send_sms"]
        assert report.changes == 1
        after = {t.name: t.updated_at for t in s.scalars(select(Tool))}
        assert [n for n in after if after[n] != before[n]] == ["send_sms"]
        assert s.get(Tool, "send_sms").description.endswith("Changed.")  # type: ignore[union-attr]
        s.refresh(binding)
        assert binding.live_version == 3  # sync never moves the live binding


def test_removed_integration_and_tool_are_deprecated_not_deleted(
    engine: Engine, catalog: Catalog
) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        s.commit()
        integrations = [i for i in catalog.integrations if i.slug != "mapbox"]
        tools: list[ToolSpec] = []
        for t in catalog.tools:
            if t.name == "send_slack_message":
                continue
            if t.name == "geocode_address":
                t = t.model_copy(update={"providers": t.providers[:1]})
            tools.append(t)
        slack = next(i for i in integrations if i.slug == "slack")
        integrations = [
            i.model_copy(update={"tools": []}) if i is slack else i for i in integrations
        ]
        smaller = catalog.model_copy(update={"integrations": integrations, "tools": tools})
        report = sync_catalog(s, smaller)
        s.commit()
        assert report.integrations.deprecated == ["mapbox"]
        assert report.tools.deprecated == ["send_slack_message"]
        assert report.providers.removed == ["geocode_address:mapbox"]
        mapbox = s.get(Integration, "mapbox")
        assert mapbox is not None and mapbox.status == "deprecated"
        assert "send_slack_message" not in {t.name for t in service.list_tools(s)}
        assert s.get(Tool, "send_slack_message").status == "deprecated"  # type: ignore[union-attr]
        caps = service.capabilities(s, set())
        names = {a["name"] for d in caps["data"]["domains"] for a in d["actions"]}
        assert "send_slack_message" not in names
        # Back in the files: back to its catalog status.
        again = sync_catalog(s, catalog)
        s.commit()
        assert again.integrations.updated == ["mapbox", "slack"]  # slack lists its tool again
        assert again.tools.updated == ["geocode_address", "send_slack_message"]
        assert again.providers.inserted == ["geocode_address:mapbox"]
        assert s.get(Tool, "send_slack_message").status == "active"  # type: ignore[union-attr]
        assert s.get(Integration, "mapbox").status == "planned"  # type: ignore[union-attr]


def test_lookups_filters_and_errors(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        s.commit()
        payments = service.list_integrations(s, category="payments")
        assert {i.slug for i in payments} == {"stripe", "square"}
        available = service.list_integrations(s, status="available")
        assert len(available) == 6
        assert {i.slug for i in service.list_integrations(s, search="SIGNATURE")} >= {
            "dropbox_sign",
            "docusign",
        }
        assert service.list_integrations(s, search="100%_sure") == []
        with pytest.raises(HubError) as exc:
            service.list_integrations(s, category="banking")
        assert exc.value.kind == "invalid_request"
        assert exc.value.details["field"] == "category"
        assert "payments" in exc.value.details["allowed"]
        with pytest.raises(HubError) as exc:
            service.list_integrations(s, status="live")
        assert exc.value.details["field"] == "status"
        with pytest.raises(HubError) as exc:
            service.get_integration(s, "twillio")
        assert exc.value.kind == "not_found" and "'twilio'" in exc.value.message
        with pytest.raises(HubError) as exc:
            service.list_tools(s, domain="nope")
        assert exc.value.details["field"] == "domain"
        assert [t.name for t in service.list_tools(s, domain="voice")] == [
            "synthesize_speech",
            "transcribe_audio",
        ]
        assert service.get_tool(s, "send_sms").permission == "unrestricted"
        providers = service.providers_for(s, "send_email")
        assert [(p.integration_slug, p.is_default) for p in providers] == [
            ("sendgrid", True),
            ("mailgun", False),
        ]


def test_capabilities_from_the_database_follow_changes(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        s.commit()
        first = service.capabilities(s, {"stripe"}, domain="payments")
        actions = {a["name"]: a for a in first["data"]["domains"][0]["actions"]}
        assert actions["charge_card"]["available"] is True
        assert actions["send_invoice"]["available"] is True
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


# ---------------------------------------------------------------- HTTP routes


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

    @app.exception_handler(HubError)
    def _hub_error(_request: Any, exc: HubError) -> JSONResponse:  # the app's contract
        return JSONResponse(exc.to_dict(), status_code=exc.status)

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


def test_integration_spec_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError):
        IntegrationSpec.model_validate({"slug": "x", "surprise": True})
