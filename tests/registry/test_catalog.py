"""The catalog files: the shipped catalog, the linter and the spec models."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

import hub.schema  # noqa: F401 - every table, for create_all
from hub.registry.catalog import CatalogError, load_catalog
from hub.registry.lint_cmd import lint, registry_lint
from hub.registry.spec import (
    AUTH_TYPES,
    CATEGORIES,
    PERMISSIONS,
    STATUSES,
    Catalog,
    IntegrationSpec,
)
from tests.registry.conftest import EXPECTED_INTEGRATIONS, EXPECTED_TOOLS, INTERNAL_TOOLS, SEED

# ---------------------------------------------------------------- the shipped catalog


def test_shipped_catalog_loads_with_zero_problems(catalog: Catalog) -> None:
    assert lint(SEED) == []
    assert sorted(i.slug for i in catalog.integrations) == EXPECTED_INTEGRATIONS
    assert sorted(t.name for t in catalog.tools) == sorted(EXPECTED_TOOLS + INTERNAL_TOOLS)
    # Every tool domain has a description (capabilities shows it).
    assert {d.name for d in catalog.domains} == {t.domain for t in catalog.tools}


def test_statuses_follow_the_seeds(catalog: Catalog) -> None:
    by_status: dict[str, set[str]] = {}
    for i in catalog.integrations:
        by_status.setdefault(i.status, set()).add(i.slug)
    assert by_status["available"] == {
        "twilio", "sendgrid", "mailgun", "google_maps", "stripe", "square", "dropbox_sign",
        "apple_calendar",
    }  # fmt: skip
    assert {"tiktok", "gift_card_vendor"} <= by_status["coming_soon"]


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
    assert "0 problems: 35 integrations, 23 tools" in good.output


def test_integration_spec_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError):
        IntegrationSpec.model_validate({"slug": "x", "surprise": True})
