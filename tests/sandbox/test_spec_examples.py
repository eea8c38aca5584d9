"""The examples added to our copies of the vendor specs: each matches its schema, and Prism
answers with them, so the sandbox speaks plausible data instead of "string" placeholders."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from hub.sandbox.vendors import available_vendors

STRIPE = available_vendors()["stripe"]


def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable: true`` becomes a null alternative."""
    if isinstance(node, list):
        return [_as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _as_json_schema(v) for k, v in node.items()}
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _examples(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(operation, response schema $ref, example value) for every 200 JSON example."""
    found = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("responses", {}).get("200", {}).get("content", {})
            media = content.get("application/json", {})
            for name, ex in media.get("examples", {}).items():
                found.append((f"{method.upper()} {path} ({name})", media["schema"], ex["value"]))
    return found


SPEC = json.loads(STRIPE.read_text())
EXAMPLES = _examples(SPEC)


def test_stripe_spec_has_examples_for_every_operation_the_workflows_call():
    ops = {label.split(" (")[0] for label, _, _ in EXAMPLES}
    assert ops == {
        "POST /v1/payment_intents",
        "POST /v1/payment_intents/{intent}/confirm",
        "POST /v1/refunds",
        "POST /v1/checkout/sessions",
        "POST /v1/customers",
        # send_invoice's steps
        "GET /v1/customers",
        "POST /v1/invoices",
        "POST /v1/invoiceitems",
        "POST /v1/invoices/{invoice}/finalize",
        "POST /v1/invoices/{invoice}/send",
    }


@pytest.mark.parametrize(("label", "schema", "value"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_matches_the_vendors_schema(label, schema, value):
    root = _as_json_schema(SPEC)
    validator = jsonschema.Draft7Validator(
        {**_as_json_schema(schema), **{"components": root["components"]}}
    )
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]
    assert errors == [], f"{label}: the example breaks the spec's schema: {errors}"


def test_example_would_fail_a_wrong_shape():
    # guards the validator above: a payment intent without its required id is rejected
    root = _as_json_schema(SPEC)
    _, schema, value = EXAMPLES[0]
    validator = jsonschema.Draft7Validator(
        {**_as_json_schema(schema), "components": root["components"]}
    )
    broken = {k: v for k, v in value.items() if k != "id"} | {"status": "paid"}
    assert len(list(validator.iter_errors(broken))) == 2


def test_prism_answers_a_payment_intent_with_the_example(sandbox):
    resp = httpx.post(
        sandbox.base_url("stripe") + "/v1/payment_intents",
        headers={"Authorization": "Bearer sk_test_x"},
        data={"amount": "1999", "currency": "usd"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"].startswith("pi_") and body["currency"] == "usd"
    assert body["status"] == "succeeded" and body["object"] == "payment_intent"


# -- DocuSign (Swagger 2.0: examples per response, schemas under definitions) ------------

DOCUSIGN = json.loads(available_vendors()["docusign"].read_text())
DOCUSIGN_EXAMPLES = [
    (f"{method.upper()} {path} {code}", answer["schema"], answer["examples"]["application/json"])
    for path, ops in DOCUSIGN["paths"].items()
    for method, op in ops.items()
    if isinstance(op, dict)
    for code, answer in op.get("responses", {}).items()
    if "examples" in answer
]


def test_docusign_spec_has_examples_for_the_operations_the_workflows_call():
    assert sorted(label for label, _, _ in DOCUSIGN_EXAMPLES) == [
        "GET /restapi/v2.1/accounts/{accountId} 200",
        "POST /restapi/v2.1/accounts/{accountId}/envelopes 201",
    ]


@pytest.mark.parametrize(
    ("label", "schema", "value"), DOCUSIGN_EXAMPLES, ids=[e[0] for e in DOCUSIGN_EXAMPLES]
)
def test_docusign_example_matches_the_vendors_schema(label, schema, value):
    validator = jsonschema.Draft4Validator({**schema, "definitions": DOCUSIGN["definitions"]})
    assert [e.message for e in validator.iter_errors(value)] == [], label
    # and the validator can refuse: a number where DocuSign has strings
    key = next(k for k, v in value.items() if isinstance(v, str))
    assert list(validator.iter_errors({**value, key: 7}))


def test_prism_answers_an_envelope_with_the_example(sandbox):
    resp = httpx.post(
        sandbox.base_url("docusign") + "/restapi/v2.1/accounts/0f1e2d3c/envelopes",
        json={"emailSubject": "Agreement", "status": "sent", "templateId": "t-1"},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "sent" and body["uri"] == f"/envelopes/{body['envelopeId']}"
