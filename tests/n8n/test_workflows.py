"""Workflow files: lint, checksum, and deploy / status / drift / pull / rollback on a real n8n.

The deploy tests run against their own n8n (module fixture ``wf_n8n``, started by the
project's code like ``local_n8n``) so they never touch the workflows the live hub of
``tests/live_hub.py`` deployed to the shared one (same names, same webhook paths).

Each deploy test stands alone: ``wf_rt`` gives it a fresh hub (its own SQLite database and
a copy of ``n8n_workflows/`` in ``tmp_path``, since pull writes files) and empties n8n of
hub workflows before and after; ``deployed`` / ``twilio_deployed`` deploy first, and the
helpers (``_edit_in_editor``, ``_add_version``, ``pull``) build the rest of the state a test
needs. The CLI test is one operator session and says so.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.core.errors import HubError
from hub.core.settings import repo_path
from hub.n8n.client import N8nClient
from hub.n8n.deploy import deploy_all
from hub.n8n.instance import get_instance, register_instance, secret_of
from hub.n8n.invoke import WEBHOOK_AUTH_HEADER
from hub.n8n.lint import errors, lint_file, lint_folder, lint_workflow
from hub.n8n.local import LocalN8n, N8nStartError
from hub.n8n.models import WorkflowDeployment
from hub.n8n.provision import provision_owner_and_key
from hub.n8n.status import status
from hub.n8n.versions import pull, rollback
from hub.n8n.workflows import (
    WEBHOOK_CREDENTIAL_PLACEHOLDER,
    WorkflowRef,
    checksum,
    discover,
    parse_path,
)
from hub.registry.models import ToolProvider
from hub.runtime import Runtime, open_runtime
from tests.conftest import make_settings
from tests.n8n_fixtures import OWNER_EMAIL, OWNER_PASSWORD, free_port_pair

# A generated stand-in for a Stripe key body: the linter must catch its shape.
FAKE_KEY_BODY = secrets.token_hex(12)

SHIPPED = repo_path("n8n_workflows")
TWILIO = SHIPPED / "twilio" / "send_sms.v1.json"
STRIPE = SHIPPED / "stripe" / "charge_card.v1.json"

#: The workflows the hub ships (integration/tool), one v1 each.
EXPECTED = {
    "twilio/send_sms",
    "sendgrid/send_email",
    "mailgun/send_email",
    "google_maps/geocode_address",
    "stripe/charge_card",
    "stripe/refund_payment",
    "stripe/create_payment_link",
    "stripe/send_invoice",
    "square/charge_card",
    "square/refund_payment",
    "google_calendar/create_calendar_event",
    "google_calendar/list_calendar_events",
    "outlook_calendar/create_calendar_event",
    "outlook_calendar/list_calendar_events",
    "apple_calendar/create_calendar_event",
    "apple_calendar/list_calendar_events",
    "dropbox_sign/send_contract",
    "docusign/send_contract",
    "google_business_profile/post_to_social",
    # Save & Test's internal tool: the vendor's cheapest authenticated read.
    "twilio/verify_credentials",
    "stripe/verify_credentials",
    "square/verify_credentials",
    "sendgrid/verify_credentials",
    "mailgun/verify_credentials",
    "dropbox_sign/verify_credentials",
    "docusign/verify_credentials",
    "google_business_profile/verify_credentials",
}
# Inbound-event handlers (hub.webhooks): deployed like tools, bound to no tool.
HANDLERS = {"twilio/on_event", "docusign/on_event"}
# Multi-step workflows (their tools declare `steps`): they record each step at steps_url.
MULTI_STEP = {"stripe/send_invoice"}


# --------------------------------------------------------------------------- shipped files


def test_every_shipped_workflow_lints_clean_without_warnings():
    files = discover(SHIPPED)
    assert {f.ref.key for f in files} == EXPECTED | HANDLERS
    assert all(f.ref.version == 1 for f in files)
    assert lint_folder(SHIPPED) == []


def test_shipped_workflows_follow_the_contract_shape():
    for f in discover(SHIPPED):
        wf = f.data
        assert wf is not None and wf["pinData"] == {} and "meta" in wf
        hook = next(n for n in wf["nodes"] if n["type"] == "n8n-nodes-base.webhook")
        assert hook["parameters"]["path"] == f"hub/{f.ref.integration}/{f.ref.tool}/v1"
        assert hook["credentials"]["httpHeaderAuth"] == {
            "id": WEBHOOK_CREDENTIAL_PLACEHOLDER,
            "name": "hub webhook auth",
        }
        # Webhook -> Edge -> Vendor -> Respond(s): no Code nodes, few nodes (DocuSign's
        # send_contract also fetches and encodes the document first: 10; a multi-step
        # workflow has an IF, a vendor call and a step recorder per step).
        types = [n["type"] for n in wf["nodes"]]
        assert "n8n-nodes-base.code" not in types
        most = 40 if f.ref.key in MULTI_STEP else 10 if f.ref.key == "docusign/send_contract" else 8
        assert len(types) <= most, f.ref.key
        if f.ref.key in HANDLERS:  # a handler that calls no vendor redeems no grant
            continue
        edge = next(n for n in wf["nodes"] if "edge_url" in n["parameters"].get("url", ""))
        assert f"integration: '{f.ref.integration}'" in edge["parameters"]["jsonBody"]
        # Workflow ids and webhook ids are unique across files (n8n keys webhooks by them).
    ids = [n["webhookId"] for f in discover(SHIPPED) for n in f.data["nodes"] if "webhookId" in n]
    assert len(ids) == len(set(ids))


def test_every_shipped_workflow_has_a_registry_binding(hub_runtime: Runtime):
    with hub_runtime.db.session() as s:
        bound = {p.workflow for p in s.scalars(select(ToolProvider))}
    assert bound >= EXPECTED


def test_parse_path():
    assert parse_path("x/twilio/send_sms.v12.json") == WorkflowRef("twilio", "send_sms", 12)
    assert parse_path("x/twilio/send_sms.json") is None
    assert parse_path("x/twilio/send_sms.v0.json") is None
    assert parse_path("x/Twilio/send_sms.v1.json") is None


# --------------------------------------------------------------------------- lint: broken copies


def _twilio() -> dict[str, Any]:
    return json.loads(TWILIO.read_text())


def _node(wf: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in wf["nodes"] if n["name"] == name)


def _index(wf: dict[str, Any], name: str) -> int:
    return next(i for i, n in enumerate(wf["nodes"]) if n["name"] == name)


def _write(tmp: Path, wf: Any, rel: str = "twilio/send_sms.v1.json") -> Path:
    p = tmp / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(wf if isinstance(wf, str) else json.dumps(wf))
    return p


def _set_header(wf: dict[str, Any], name: str, value: str) -> None:
    _node(wf, "Send SMS")["parameters"]["headerParameters"]["parameters"].append(
        {"name": name, "value": value}
    )


def _mut_wrong_path(wf):
    _node(wf, "Webhook")["parameters"]["path"] = "hub/twilio/send_sms/v2"


def _mut_no_error_output(wf):
    wf["connections"]["Send SMS"]["main"].pop()


def _mut_on_error_missing(wf):
    del _node(wf, "Send SMS")["onError"]


def _mut_dangling_branch(wf):
    wf["nodes"].append(
        {
            "parameters": {},
            "id": str(uuid.uuid4()),
            "name": "Do nothing",
            "type": "n8n-nodes-base.noOp",
            "typeVersion": 1,
            "position": [900, 0],
        }
    )
    wf["connections"]["Send SMS"]["main"][0] = [{"node": "Do nothing", "type": "main", "index": 0}]


def _mut_sk_live_header(wf):
    _node(wf, "Send SMS")["parameters"]["headerParameters"]["parameters"][0]["value"] = (
        f"Bearer sk_live_{FAKE_KEY_BODY}"
    )


def _mut_sk_live_in_expression(wf):
    _node(wf, "Send SMS")["parameters"]["headerParameters"]["parameters"][0]["value"] = (
        f"={{{{ 'Bearer ' + 'sk_live_{FAKE_KEY_BODY}' }}}}"
    )


def _mut_basic_literal(wf):
    _node(wf, "Send SMS")["parameters"]["headerParameters"]["parameters"][0]["value"] = (
        "Basic QUMxMjM0NTY6c2VjcmV0dG9rZW4="
    )


def _mut_random_header(wf):
    _set_header(wf, "X-Api-Key", "a8f5f167f44f4964e6c998dee827110c")


def _mut_sendgrid_key_in_body(wf):
    _node(wf, "Send SMS")["parameters"]["body"] = (
        "=To=1&Key=SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
    )


def _mut_private_key_in_notes(wf):
    _node(wf, "Send SMS")["notes"] = (
        "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE..."
    )  # split: not a key, a lint probe


def _mut_stored_credential(wf):
    _node(wf, "Send SMS")["credentials"] = {"httpBasicAuth": {"id": "7", "name": "twilio prod"}}


def _mut_predefined_auth(wf):
    _node(wf, "Send SMS")["parameters"]["authentication"] = "predefinedCredentialType"


def _mut_missing_save_setting(wf):
    del wf["settings"]["saveDataSuccessExecution"]


def _mut_saves_executions(wf):
    wf["settings"]["saveDataErrorExecution"] = "all"


def _mut_no_timeout(wf):
    del wf["settings"]["executionTimeout"]


def _mut_get_method(wf):
    _node(wf, "Webhook")["parameters"]["httpMethod"] = "GET"


def _mut_immediate_response(wf):
    _node(wf, "Webhook")["parameters"]["responseMode"] = "onReceived"


def _mut_no_header_auth(wf):
    del _node(wf, "Webhook")["parameters"]["authentication"]


def _mut_second_trigger(wf):
    wf["nodes"].append(
        {
            "parameters": {"rule": {"interval": [{}]}},
            "id": str(uuid.uuid4()),
            "name": "Every hour",
            "type": "n8n-nodes-base.scheduleTrigger",
            "typeVersion": 1.2,
            "position": [0, 300],
        }
    )


def _mut_echo_items(wf):
    _node(wf, "Respond")["parameters"]["respondWith"] = "firstIncomingItem"


def _mut_echo_json(wf):
    _node(wf, "Respond vendor unreachable")["parameters"]["responseBody"] = "={{ $json }}"


def _mut_wrong_integration(wf):
    edge = _node(wf, "Get credentials")
    edge["parameters"]["jsonBody"] = edge["parameters"]["jsonBody"].replace("'twilio'", "'stripe'")


def _mut_literal_vendor_url(wf):
    _node(wf, "Send SMS")["parameters"]["url"] = "https://api.twilio.com/2010-04-01/Messages.json"


def _mut_pinned_data(wf):
    wf["pinData"] = {"Send SMS": [{"json": {"statusCode": 201}}]}


def _mut_unconnected_if(wf):
    wf["nodes"].append(
        {
            "parameters": {"conditions": {}},
            "id": str(uuid.uuid4()),
            "name": "Check",
            "type": "n8n-nodes-base.if",
            "typeVersion": 2.2,
            "position": [100, 100],
        }
    )
    wf["connections"]["Webhook"]["main"][0] = [{"node": "Check", "type": "main", "index": 0}]
    wf["connections"]["Check"] = {
        "main": [[{"node": "Get credentials", "type": "main", "index": 0}]]
    }


TW = _twilio()
I_WEBHOOK, I_SEND, I_EDGE = (
    _index(TW, "Webhook"),
    _index(TW, "Send SMS"),
    _index(TW, "Get credentials"),
)
I_UNREACHABLE = _index(TW, "Respond vendor unreachable")
I_RESPOND = _index(TW, "Respond")
HEADER0 = f"/nodes/{I_SEND}/parameters/headerParameters/parameters/0/value"

BROKEN = [
    (
        "wrong_path",
        _mut_wrong_path,
        f"/nodes/{I_WEBHOOK}/parameters/path",
        "hub/twilio/send_sms/v1",
    ),
    ("no_error_output", _mut_no_error_output, "/connections/Send SMS/main/1", "not connected"),
    (
        "no_error_output_unreachable",
        _mut_no_error_output,
        f"/nodes/{I_UNREACHABLE}",
        "not reachable",
    ),
    ("on_error_missing", _mut_on_error_missing, f"/nodes/{I_SEND}/onError", "continueErrorOutput"),
    ("dangling_branch", _mut_dangling_branch, f"/nodes/{len(TW['nodes'])}", "not at a Respond"),
    ("sk_live_header", _mut_sk_live_header, HEADER0, "Stripe"),
    ("sk_live_in_expression", _mut_sk_live_in_expression, HEADER0, "Stripe"),
    ("basic_literal", _mut_basic_literal, HEADER0, "Basic <literal>"),
    (
        "random_header",
        _mut_random_header,
        f"/nodes/{I_SEND}/parameters/headerParameters/parameters/1/value",
        "random-looking",
    ),
    (
        "sendgrid_key_in_body",
        _mut_sendgrid_key_in_body,
        f"/nodes/{I_SEND}/parameters/body",
        "SendGrid",
    ),
    ("private_key_in_notes", _mut_private_key_in_notes, f"/nodes/{I_SEND}/notes", "private key"),
    (
        "stored_credential",
        _mut_stored_credential,
        f"/nodes/{I_SEND}/credentials/httpBasicAuth",
        "stored n8n credential",
    ),
    (
        "predefined_auth",
        _mut_predefined_auth,
        f"/nodes/{I_SEND}/parameters/authentication",
        "n8n-stored authentication",
    ),
    ("missing_setting", _mut_missing_save_setting, "/settings/saveDataSuccessExecution", '"none"'),
    (
        "saves_executions",
        _mut_saves_executions,
        "/settings/saveDataErrorExecution",
        "must not keep",
    ),
    ("no_timeout", _mut_no_timeout, "/settings/executionTimeout", "timeout"),
    ("get_method", _mut_get_method, f"/nodes/{I_WEBHOOK}/parameters/httpMethod", "POST"),
    (
        "immediate_response",
        _mut_immediate_response,
        f"/nodes/{I_WEBHOOK}/parameters/responseMode",
        "responseNode",
    ),
    (
        "no_header_auth",
        _mut_no_header_auth,
        f"/nodes/{I_WEBHOOK}/parameters/authentication",
        "headerAuth",
    ),
    ("second_trigger", _mut_second_trigger, f"/nodes/{len(TW['nodes'])}/type", "only trigger"),
    ("echo_items", _mut_echo_items, f"/nodes/{I_RESPOND}/parameters/respondWith", "echoes"),
    (
        "echo_json",
        _mut_echo_json,
        f"/nodes/{I_UNREACHABLE}/parameters/responseBody",
        "credentials",
    ),
    (
        "wrong_integration",
        _mut_wrong_integration,
        f"/nodes/{I_EDGE}/parameters/jsonBody",
        "integration: 'twilio'",
    ),
    ("literal_vendor_url", _mut_literal_vendor_url, f"/nodes/{I_SEND}/parameters/url", "base_url"),
    ("pinned_data", _mut_pinned_data, "/pinData", "pinned data"),
    ("unconnected_if", _mut_unconnected_if, "/connections/Check/main/1", "false branch"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [b[1:] for b in BROKEN],
    ids=[b[0] for b in BROKEN],
)
def test_lint_names_the_problem_and_its_json_path(tmp_path, mutate, path, reason):
    wf = _twilio()
    mutate(wf)
    problems = lint_file(_write(tmp_path, wf), root=tmp_path)
    found = [p for p in errors(problems) if p.path == path]
    assert found, f"no error at {path}; got:\n" + "\n".join(map(str, problems))
    assert any(reason in p.reason for p in found), [p.reason for p in found]
    assert all(p.file == "twilio/send_sms.v1.json" for p in problems)


def test_lint_never_quotes_the_secret_it_found(tmp_path):
    wf = _twilio()
    _mut_sk_live_header(wf)
    for p in lint_file(_write(tmp_path, wf)):
        assert "sk_live_51Hx" not in p.reason


def test_a_code_node_is_a_warning_not_an_error(tmp_path):
    wf = _twilio()
    wf["nodes"].append(
        {
            "parameters": {"jsCode": "return $input.all();"},
            "id": str(uuid.uuid4()),
            "name": "Tweak",
            "type": "n8n-nodes-base.code",
            "typeVersion": 2,
            "position": [600, 300],
        }
    )
    wf["connections"]["Send SMS"]["main"][0] = [{"node": "Tweak", "type": "main", "index": 0}]
    wf["connections"]["Tweak"] = {"main": [[{"node": "Respond", "type": "main", "index": 0}]]}
    problems = lint_file(_write(tmp_path, wf))
    assert not errors(problems)
    (warning,) = problems
    assert warning.severity == "warning" and warning.path == f"/nodes/{len(wf['nodes']) - 1}"
    assert "Code node" in warning.reason and "expression" in warning.reason


def test_lint_file_level_problems(tmp_path):
    bad_json = lint_file(_write(tmp_path, "{not json", "twilio/send_sms.v1.json"))
    assert len(bad_json) == 1 and "not valid JSON" in bad_json[0].reason
    misnamed = lint_file(_write(tmp_path, _twilio(), "twilio/send-sms.json"))
    assert any("<integration>/<tool>.v<N>.json" in p.reason for p in misnamed)
    not_workflow = lint_file(_write(tmp_path, {"name": "x"}, "twilio/send_sms.v3.json"))
    assert [p.path for p in not_workflow] == ["/nodes"]
    # Location decides the expected path: the v1 file copied as v2 is wrong until edited.
    as_v2 = lint_file(_write(tmp_path, _twilio(), "twilio/send_sms.v2.json"))
    assert any("hub/twilio/send_sms/v2" in p.reason for p in as_v2)


def test_lint_folder_reports_a_webhook_path_used_twice(tmp_path):
    shutil.copytree(SHIPPED, tmp_path / "wf")
    wf = _twilio()
    _node(wf, "Webhook")["parameters"]["path"] = "hub/twilio/send_sms/v1"
    _write(tmp_path / "wf", wf, "twilio/send_sms.v2.json")
    problems = lint_folder(tmp_path / "wf")
    assert any("also used by twilio/send_sms.v1.json" in p.reason for p in problems)


DOCUSIGN_SEND = SHIPPED / "docusign" / "send_contract.v1.json"
TOKEN_EXPR = "={{ 'Bearer ' + $('Get credentials').first().json.credentials.access_token }}"


@pytest.mark.parametrize(
    "leak",
    [
        {
            "sendHeaders": True,
            "headerParameters": {"parameters": [{"name": "Authorization", "value": TOKEN_EXPR}]},
        },
        {"sendQuery": True, "queryParameters": {"parameters": [{"name": "t", "value": "x"}]}},
        {"method": "POST"},
    ],
    ids=["credential_header", "query", "post"],
)
def test_a_fetch_of_a_url_from_the_arguments_must_send_nothing(tmp_path, leak):
    """DocuSign's send_contract GETs the caller's document link: that host is the caller's
    choice, so the node may carry nothing of the grant (nor anything else)."""
    wf = json.loads(DOCUSIGN_SEND.read_text())
    assert lint_workflow(wf, parse_path(DOCUSIGN_SEND), "x") == []
    _node(wf, "Fetch document")["parameters"].update(leak)
    rel = "docusign/send_contract.v1.json"
    problems = errors(lint_file(_write(tmp_path, wf, rel), root=tmp_path))
    i = _index(wf, "Fetch document")
    assert [(p.path, "fetches a URL from the call's arguments" in p.reason) for p in problems] == [
        (f"/nodes/{i}/parameters", True)
    ]


def test_lint_allows_expressions_built_from_the_grant():
    wf = json.loads(STRIPE.read_text())
    assert lint_workflow(wf, WorkflowRef("stripe", "charge_card", 1), "f") == []


SEND_INVOICE = SHIPPED / "stripe" / "send_invoice.v1.json"
INVOICE_REF = WorkflowRef("stripe", "send_invoice", 1)


def _recorders(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in wf["nodes"] if "steps_url" in n["parameters"].get("url", "")]


def test_a_multi_step_workflow_records_the_steps_its_catalog_entry_declares():
    from hub.registry.catalog import load_catalog

    tool = load_catalog(repo_path("registry_seed")).tool("send_invoice")
    assert tool is not None and tool.pausable
    wf = json.loads(SEND_INVOICE.read_text())
    recorded = [
        n["parameters"]["jsonBody"].split("step: '")[1].split("'")[0] for n in _recorders(wf)
    ]
    assert recorded == tool.steps == ["customer", "invoice", "items", "finalize", "send"]
    # Each step is skipped when the webhook body says it is recorded.
    ifs = [
        n["parameters"]["conditions"]["conditions"][0]["leftValue"]
        for n in wf["nodes"]
        if n["type"] == "n8n-nodes-base.if"
    ]
    for step in tool.steps:
        assert any(f".steps || {{}}).{step}" in cond for cond in ifs), step


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda n: n["parameters"].update(
                jsonBody=n["parameters"]["jsonBody"].replace("w.step_grant", "w.grant")
            ),
            "must send the webhook body's step_grant",
        ),
        (lambda n: n["parameters"].update(method="GET"), "must POST to steps_url"),
        (lambda n: n.pop("onError"), "needs onError 'continueErrorOutput'"),
    ],
)
def test_lint_checks_step_recorders(change, reason):
    wf = json.loads(SEND_INVOICE.read_text())
    assert lint_workflow(wf, INVOICE_REF, "f") == []
    change(_recorders(wf)[1])
    problems = errors(lint_workflow(wf, INVOICE_REF, "f"))
    assert any(reason in p.reason for p in problems), [p.reason for p in problems]


# --------------------------------------------------------------------------- checksum


def test_checksum_ignores_positions_ids_names_and_credential_ids():
    wf = _twilio()
    base = checksum(wf)
    moved = copy.deepcopy(wf)
    for n in moved["nodes"]:
        n["position"] = [n["position"][0] + 500, n["position"][1] - 40]
        n["id"] = str(uuid.uuid4())
        n.pop("webhookId", None)
    moved["name"] = "renamed in the editor"
    moved["id"] = "abc123"
    moved["nodes"].reverse()
    _node(moved, "Webhook")["credentials"]["httpHeaderAuth"]["id"] = "n8n-real-id"
    moved["settings"]["timezone"] = "Europe/Berlin"  # not a setting the hub owns
    moved["connections"]["Send SMS"]["main"].append([])  # the editor's trailing empty output
    assert checksum(moved) == base


@pytest.mark.parametrize(
    "change",
    [
        lambda wf: _node(wf, "Send SMS")["parameters"]["options"].update(timeout=5000),
        lambda wf: _node(wf, "Send SMS").update(onError="continueRegularOutput"),
        lambda wf: wf["connections"]["Send SMS"]["main"].reverse(),
        lambda wf: wf["settings"].update(executionTimeout=60),
        lambda wf: _node(wf, "Webhook")["credentials"]["httpHeaderAuth"].update(name="other"),
        lambda wf: _node(wf, "Respond").update(typeVersion=1.1),
    ],
    ids=["parameter", "on_error", "connections", "setting", "credential_name", "type_version"],
)
def test_checksum_sees_behaviour_changes(change):
    wf = _twilio()
    base = checksum(wf)
    change(wf)
    assert checksum(wf) != base


# --------------------------------------------------------------------------- deploy on n8n


@pytest.fixture(scope="module")
def wf_n8n(n8n_install, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """An n8n of this module's own: (url, api key). Started once; each test empties it."""
    n8n = LocalN8n(
        n8n_install,
        tmp_path_factory.mktemp("wf-n8n"),
        free_port_pair(),
        encryption_key=f"test-{uuid.uuid4().hex}",
        die_with_parent=True,
    )
    try:
        n8n.start()
    except N8nStartError as exc:
        pytest.fail(f"n8n did not start: {exc}", pytrace=False)
    try:
        yield n8n.url, provision_owner_and_key(n8n.url, OWNER_EMAIL, OWNER_PASSWORD)
    finally:
        n8n.stop()


@pytest.fixture(scope="module")
def n8n_client(wf_n8n) -> Iterator[N8nClient]:
    with N8nClient(*wf_n8n) as c:
        yield c


def _clear_n8n(client: N8nClient, credential_id: str | None = None) -> None:
    """Delete every hub workflow (and the test's webhook credential) from ``wf_n8n``.

    Every test deploys the same names and webhook paths, and deploy adopts a workflow it
    finds by name: a leftover would change what the next test sees.
    """
    for wf in client.list_workflows():
        if str(wf.get("name", "")).startswith("hub: "):
            try:
                client.deactivate(wf["id"])
            finally:
                client.delete_workflow(wf["id"])
    if credential_id and client.get_credential(credential_id) is not None:
        client.delete_credential(credential_id)


@pytest.fixture
def wf_rt(wf_n8n, n8n_client, tmp_path) -> Iterator[Runtime]:
    """A fresh hub runtime (SQLite) registered with ``wf_n8n``, nothing deployed, its
    workflows folder a copy of the shipped one; n8n holds no hub workflow before or after."""
    _clear_n8n(n8n_client)
    shutil.copytree(SHIPPED, tmp_path / "workflows")
    (tmp_path / "hub").mkdir()
    rt = open_runtime(
        make_settings(
            tmp_path / "hub",
            f"sqlite:///{tmp_path / 'hub' / 'hub.db'}",
            workflows_dir=tmp_path / "workflows",
        )
    )
    with rt.db.session() as s:
        register_instance(s, rt.vault, wf_n8n[0], api_key=wf_n8n[1])
    try:
        yield rt
    finally:
        with rt.db.session() as s:
            credential_id = get_instance(s).webhook_auth_n8n_id
        rt.close()
        _clear_n8n(n8n_client, credential_id)


@pytest.fixture
def deployed(wf_rt) -> Runtime:
    """``wf_rt`` with every shipped workflow deployed, published and live at v1."""
    results = deploy_all(wf_rt)
    assert {r.action for r in results} == {"created"}, [str(r.ref) for r in results]
    return wf_rt


@pytest.fixture
def twilio_deployed(wf_rt) -> Runtime:
    """``wf_rt`` with only twilio/send_sms v1 deployed, published and live."""
    (r,) = deploy_all(wf_rt, only="twilio/send_sms")
    assert r.action == "created" and r.live, r.message
    return wf_rt


def _folder(rt: Runtime) -> Path:
    return Path(rt.settings.workflows_dir)


def _secret(rt: Runtime) -> str:
    with rt.db.session() as s:
        return secret_of(s, rt.vault, get_instance(s).webhook_secret_credential_id, "secret")


def _hook(rt: Runtime, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST a webhook the way the hub does, with a grant nobody will redeem."""
    url = get_url(rt)
    body = {
        "run_id": "run_test",
        "tenant_id": "t",
        "tool": "send_sms",
        "args": {"to": "+14155550123", "body": "hi"},
        "grant": "gr_not_a_real_grant_000",
        "idempotency_key": "k",
        "edge_url": "http://127.0.0.1:9/edge/credentials",  # nothing listens on port 9
    }
    return httpx.post(f"{url}/webhook/{path}", json=body, headers=headers or {}, timeout=30)


def get_url(rt: Runtime) -> str:
    with rt.db.session() as s:
        return get_instance(s).base_url


def _live(rt: Runtime, key: str) -> int | None:
    with rt.db.session() as s:
        return s.scalar(select(ToolProvider.live_version).where(ToolProvider.workflow == key))


def _row(rt: Runtime, ref: WorkflowRef) -> WorkflowDeployment:
    with rt.db.session() as s:
        return s.scalar(
            select(WorkflowDeployment).where(
                WorkflowDeployment.integration == ref.integration,
                WorkflowDeployment.tool == ref.tool,
                WorkflowDeployment.version == ref.version,
            )
        )


def _status(rt: Runtime, key: str):
    return next(b for b in status(rt) if b.workflow == key)


def _edit_in_editor(
    rt: Runtime, client: N8nClient, ref: WorkflowRef, node: str, timeout: int
) -> str:
    """Change a node's request timeout in n8n's copy of ``ref`` (what a save in the n8n
    editor does); returns the workflow's n8n id."""
    wid = _row(rt, ref).n8n_id
    remote = client.get_workflow(wid)
    _node(remote, node)["parameters"]["options"]["timeout"] = timeout
    client.update_workflow(wid, remote)
    return wid


def _add_version(rt: Runtime, ref: WorkflowRef) -> Path:
    """Write ``ref``'s file: the tool's v1 file with ``ref``'s webhook path and a new
    webhook id (a version that lints clean and deploys next to v1)."""
    wf = json.loads((_folder(rt) / ref.with_version(1).relative_path).read_text())
    hook = _node(wf, "Webhook")
    hook["parameters"]["path"] = ref.webhook_path
    hook["webhookId"] = str(uuid.uuid4())
    return _write(_folder(rt), wf, ref.relative_path)


TW1 = WorkflowRef("twilio", "send_sms", 1)
TW2 = TW1.with_version(2)
SMS_TIMEOUT = _node(TW, "Send SMS")["parameters"]["options"]["timeout"]  # the file's value


@pytest.mark.n8n
def test_deploy_creates_publishes_and_requires_the_webhook_header(wf_rt, n8n_client):
    progress: list[tuple[int, int, str]] = []
    results = deploy_all(wf_rt, on_progress=lambda *a: progress.append(a))
    assert {(r.ref.key, r.action) for r in results} == {(k, "created") for k in EXPECTED | HANDLERS}
    assert all(r.ok for r in results)
    assert all(r.live for r in results if r.ref.key in EXPECTED)
    assert progress[-1][:2] == (len(EXPECTED | HANDLERS), len(EXPECTED | HANDLERS))
    for key in EXPECTED:
        assert _live(wf_rt, key) == 1
    row = _row(wf_rt, TW1)
    assert row.webhook_path == "hub/twilio/send_sms/v1" and row.active and row.deployed_by == "cli"
    remote = n8n_client.get_workflow(row.n8n_id)
    assert remote["active"] and remote["name"] == "hub: twilio/send_sms v1"
    assert remote["settings"]["saveDataSuccessExecution"] == "none"
    with wf_rt.db.session() as s:
        cred_id = get_instance(s).webhook_auth_n8n_id
    hook = next(n for n in remote["nodes"] if n["type"] == "n8n-nodes-base.webhook")
    assert hook["credentials"]["httpHeaderAuth"]["id"] == cred_id

    assert _hook(wf_rt, TW1.webhook_path).status_code == 403
    assert _hook(wf_rt, TW1.webhook_path, {WEBHOOK_AUTH_HEADER: "wrong"}).status_code == 403
    ok = _hook(wf_rt, TW1.webhook_path, {WEBHOOK_AUTH_HEADER: _secret(wf_rt)})
    assert ok.status_code == 200
    assert ok.json()["ok"] is False and ok.json()["error"]["kind"] == "grant_refused"


@pytest.mark.n8n
def test_redeploy_of_unchanged_files_only_verifies(deployed, n8n_client):
    before = n8n_client.get_workflow(_row(deployed, TW1).n8n_id)["versionId"]
    results = deploy_all(deployed)
    assert {r.action for r in results} == {"unchanged"}
    assert n8n_client.get_workflow(_row(deployed, TW1).n8n_id)["versionId"] == before


@pytest.mark.n8n
def test_status_after_deploy_shows_no_drift(deployed):
    rows = {b.workflow: b for b in status(deployed)}
    for key in EXPECTED:
        b = rows[key]
        assert b.live_version == 1 and b.deployed == [1] and b.files == [1]
        assert b.healthy and not b.drift and not b.file_changed and not b.not_deployed
    assert rows["slack/send_slack_message"].files == []  # bindings without files are listed


@pytest.mark.n8n
def test_a_lost_webhook_credential_is_recreated(deployed, n8n_client):
    with deployed.db.session() as s:
        old = get_instance(s).webhook_auth_n8n_id
    n8n_client.delete_credential(old)
    results = deploy_all(deployed, only="sendgrid/send_email")
    assert [r.action for r in results] == ["updated"]
    with deployed.db.session() as s:
        new = get_instance(s).webhook_auth_n8n_id
    assert new and new != old
    path = "hub/sendgrid/send_email/v1"
    assert _hook(deployed, path, {WEBHOOK_AUTH_HEADER: _secret(deployed)}).status_code == 200
    # The others still point at the deleted credential until they are redeployed.
    assert {r.action for r in deploy_all(deployed)} == {"updated", "unchanged"}
    assert (
        _hook(deployed, TW1.webhook_path, {WEBHOOK_AUTH_HEADER: _secret(deployed)}).status_code
        == 200
    )


@pytest.mark.n8n
def test_deploy_brings_a_rotated_webhook_secret_to_n8n(deployed):
    from hub.n8n.models import SYSTEM_TENANT

    old = _secret(deployed)
    new = secrets.token_urlsafe(32)
    with deployed.db.session() as s:
        inst = get_instance(s)
        deployed.vault.put(
            s,
            tenant_id=SYSTEM_TENANT,
            owner_id="n8n:default",
            kind="webhook_secret",
            fields={"secret": new},
            credential_id=inst.webhook_secret_credential_id,
        )
    assert {r.action for r in deploy_all(deployed)} == {"unchanged"}
    assert _hook(deployed, TW1.webhook_path, {WEBHOOK_AUTH_HEADER: old}).status_code == 403
    assert _hook(deployed, TW1.webhook_path, {WEBHOOK_AUTH_HEADER: new}).status_code == 200


@pytest.mark.n8n
def test_deploy_refuses_a_file_that_fails_lint(twilio_deployed):
    rt = twilio_deployed
    bad = _twilio()
    _mut_sk_live_header(bad)
    _node(bad, "Webhook")["parameters"]["path"] = "hub/twilio/send_sms/v9"
    _write(_folder(rt), bad, "twilio/send_sms.v9.json")
    results = deploy_all(rt, only="twilio/send_sms")
    by_version = {r.version: r for r in results}
    assert by_version[9].action == "refused" and not by_version[9].ok
    assert any("Stripe" in p.reason for p in by_version[9].problems)
    assert by_version[1].action == "unchanged"
    assert _row(rt, WorkflowRef("twilio", "send_sms", 9)) is None
    assert _live(rt, "twilio/send_sms") == 1


@pytest.mark.n8n
def test_editor_changes_are_drift_but_moving_a_node_is_not(twilio_deployed, n8n_client):
    rt = twilio_deployed
    wid = _row(rt, TW1).n8n_id
    remote = n8n_client.get_workflow(wid)
    for n in remote["nodes"]:
        n["position"] = [n["position"][0] + 120, n["position"][1] + 60]
    n8n_client.update_workflow(wid, remote)  # what the editor's save does
    assert not _status(rt, "twilio/send_sms").drift

    _edit_in_editor(rt, n8n_client, TW1, "Send SMS", 7000)
    st = _status(rt, "twilio/send_sms")
    assert st.drift == [1] and st.live_drifted and not st.healthy
    assert not st.file_changed  # the file did not change; n8n's copy did

    # deploy does not overwrite an editor change
    (r,) = deploy_all(rt, only="twilio/send_sms")
    assert r.action == "drifted" and "hub workflows pull twilio send_sms" in r.message
    again = n8n_client.get_workflow(wid)
    assert _node(again, "Send SMS")["parameters"]["options"]["timeout"] == 7000


@pytest.mark.n8n
def test_pull_writes_the_next_version_which_lints_clean(twilio_deployed, n8n_client):
    rt = twilio_deployed
    _edit_in_editor(rt, n8n_client, TW1, "Send SMS", 7000)
    path = pull(rt, "twilio", "send_sms")
    assert path == _folder(rt) / "twilio" / "send_sms.v2.json"
    assert lint_file(path) == []
    wf = json.loads(path.read_text())
    hook = _node(wf, "Webhook")
    assert hook["parameters"]["path"] == "hub/twilio/send_sms/v2"
    assert hook["credentials"]["httpHeaderAuth"]["id"] == WEBHOOK_CREDENTIAL_PLACEHOLDER
    assert hook["webhookId"] != _node(_twilio(), "Webhook")["webhookId"]
    assert wf["name"] == "hub: twilio/send_sms v2" and wf["pinData"] == {}
    assert _node(wf, "Send SMS")["parameters"]["options"]["timeout"] == 7000  # the edit
    with pytest.raises(HubError, match="v7 is not deployed"):
        pull(rt, "twilio", "send_sms", from_version=7)
    with pytest.raises(HubError, match="never been deployed"):
        pull(rt, "slack", "send_slack_message")


@pytest.mark.n8n
def test_deploy_promotes_v2_and_keeps_v1_answering(twilio_deployed, n8n_client):
    rt = twilio_deployed
    _edit_in_editor(rt, n8n_client, TW1, "Send SMS", 7000)
    pull(rt, "twilio", "send_sms")
    results = {r.version: r for r in deploy_all(rt, only="twilio/send_sms", force=False)}
    assert results[2].action == "created" and results[2].live
    assert results[1].action == "drifted" and not results[1].live
    assert _live(rt, "twilio/send_sms") == 2
    secret = {WEBHOOK_AUTH_HEADER: _secret(rt)}
    for path in ("hub/twilio/send_sms/v1", "hub/twilio/send_sms/v2"):
        r = _hook(rt, path, secret)
        assert r.status_code == 200 and r.json()["error"]["kind"] == "grant_refused", r.text
    st = _status(rt, "twilio/send_sms")
    assert st.deployed == [1, 2] and st.files == [1, 2] and st.live_version == 2


@pytest.mark.n8n
def test_no_promote_leaves_the_binding(twilio_deployed):
    rt = twilio_deployed
    _add_version(rt, TW2)
    deploy_all(rt, only="twilio/send_sms")
    assert _live(rt, "twilio/send_sms") == 2
    path = _add_version(rt, TW1.with_version(3))
    (r,) = [r for r in deploy_all(rt, only="twilio/send_sms", promote=False) if r.version == 3]
    assert r.action == "created" and not r.live
    assert _live(rt, "twilio/send_sms") == 2
    assert _status(rt, "twilio/send_sms").deployed == [1, 2, 3]
    path.unlink()
    assert _status(rt, "twilio/send_sms").files == [1, 2]


@pytest.mark.n8n
def test_rollback_moves_the_binding_back_and_redeploy_keeps_it(twilio_deployed):
    rt = twilio_deployed
    _add_version(rt, TW2)
    deploy_all(rt, only="twilio/send_sms")
    assert _live(rt, "twilio/send_sms") == 2
    r = rollback(rt, "twilio", "send_sms", 1)
    assert (r.previous, r.live_version, r.bindings) == (2, 1, ["send_sms"])
    assert _live(rt, "twilio/send_sms") == 1
    # A redeploy that changes nothing does not undo the rollback.
    assert {r.action for r in deploy_all(rt, only="twilio/send_sms")} == {"unchanged"}
    assert _live(rt, "twilio/send_sms") == 1
    with pytest.raises(HubError, match="v8 is not deployed"):
        rollback(rt, "twilio", "send_sms", 8)
    with pytest.raises(HubError, match="no registry binding"):
        rollback(rt, "nosuch", "tool", 1)


@pytest.mark.n8n
def test_rollback_refuses_a_version_n8n_no_longer_publishes(twilio_deployed, n8n_client):
    rt = twilio_deployed
    _add_version(rt, TW2)
    deploy_all(rt, only="twilio/send_sms", promote=False)
    assert _row(rt, TW2) is not None and _live(rt, "twilio/send_sms") == 1
    n8n_client.deactivate(_row(rt, TW2).n8n_id)
    with pytest.raises(HubError, match="not published"):
        rollback(rt, "twilio", "send_sms", 2)
    assert _live(rt, "twilio/send_sms") == 1
    assert 2 in _status(rt, "twilio/send_sms").unpublished


@pytest.mark.n8n
def test_deploy_force_overwrites_the_editor_change(twilio_deployed, n8n_client):
    rt = twilio_deployed
    _edit_in_editor(rt, n8n_client, TW1, "Send SMS", 7000)
    (r,) = deploy_all(rt, only="twilio/send_sms", force=True)
    assert r.version == 1 and r.action == "updated" and "overwritten" in r.message
    remote = n8n_client.get_workflow(_row(rt, TW1).n8n_id)
    assert "timeout" in _node(remote, "Send SMS")["parameters"]["options"]
    assert _node(remote, "Send SMS")["parameters"]["options"]["timeout"] == SMS_TIMEOUT
    assert {1}.isdisjoint(_status(rt, "twilio/send_sms").drift)


# --------------------------------------------------------------------------- the CLI


def _cli(rt: Runtime, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATA_DIR": str(rt.settings.data_dir),
            "HUB_DATABASE_URL": rt.settings.resolved_database_url,
            "HUB_MASTER_KEY": rt.settings.master_key,
            "HUB_WORKFLOWS_DIR": str(rt.settings.workflows_dir),
            "HUB_LOG_FORMAT": "console",
            "HUB_SCHEDULER_ENABLED": "false",
            "COLUMNS": "200",
        }
    )
    p = subprocess.run(
        [sys.executable, "-m", "hub", "workflows", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and p.returncode != 0:
        raise AssertionError(
            f"hub workflows {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        )
    return p


@pytest.mark.n8n
def test_cli_lint_status_deploy_pull_rollback(deployed, n8n_client, tmp_path):
    """One operator session, in order (each step works on what the one before left):
    lint, see an editor change as drift, deploy refuses it, pull it as v2, deploy v2
    without promoting, roll the binding forward to v2."""
    rt = deployed
    out = _cli(rt, "lint").stdout
    assert "0 errors" in out and f"{len(EXPECTED | HANDLERS)} workflow file(s)" in out

    bad = _twilio()
    _mut_stored_credential(bad)
    bad_path = _write(tmp_path, bad)
    p = _cli(rt, "lint", str(bad_path), check=False)
    assert p.returncode == 1 and f"/nodes/{I_SEND}/credentials/httpBasicAuth" in p.stdout

    # an editor change on sendgrid v1 shows as drift, with the pull command to run
    _edit_in_editor(rt, n8n_client, WorkflowRef("sendgrid", "send_email", 1), "Send email", 9000)
    out = _cli(rt, "status").stdout
    assert "sendgrid/send_email" in out and "drift in v1" in out
    assert "hub workflows pull sendgrid send_email --from 1" in out

    p = _cli(rt, "deploy", "--only", "mailgun/send_email")
    assert "unchanged" in p.stdout and "1 workflow version(s) deployed" in p.stdout
    p = _cli(rt, "deploy", "--only", "sendgrid/send_email", check=False)
    assert p.returncode == 1 and "drifted" in p.stdout

    p = _cli(rt, "pull", "sendgrid", "send_email", "--from", "v1")
    new = _folder(rt) / "sendgrid" / "send_email.v2.json"
    assert new.exists()
    assert "send_email.v2.json" in p.stdout and "review the diff" in p.stdout
    p = _cli(rt, "pull", "sendgrid", "send_email", "--from", "4", check=False)
    assert p.returncode == 1 and "v4 is not deployed" in p.stderr

    p = _cli(rt, "deploy", "--no-promote", "--only", "sendgrid/send_email", check=False)
    assert "created" in p.stdout
    assert _live(rt, "sendgrid/send_email") == 1
    out = _cli(rt, "rollback", "sendgrid", "send_email", "--to", "v2").stdout
    assert "live version v2 (was v1)" in out
    assert _live(rt, "sendgrid/send_email") == 2
    p = _cli(rt, "rollback", "sendgrid", "send_email", "--to", "x", check=False)
    assert p.returncode == 2 and "not a version" in p.stderr
