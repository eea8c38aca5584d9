"""No error, on any edge, repeats a submitted value (README: "invalid input names the field
and never echoes a submitted value").

A canary shaped like a pasted live key goes into every path parameter, query parameter and
body field of every operation in the hub's OpenAPI document, and into every argument of
every MCP tool an agent is offered (and the tool name itself); every refusal is searched
for it. Every answer must also be in the hub's error shape and none may be a 5xx.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from hub.registry import service as registry
from tests.conftest import TenantKit
from tests.mcp.test_refusals import post, rpc

CANARY = "sk_live_ECHO" + secrets.token_hex(8)


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its $ref (and one-of-null wrapping) followed."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][name]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            if options:
                return resolve(doc, options[0])
    return schema


def canary_value(doc: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """The canary in the shape the schema asks for (a string where a number is asked too)."""
    schema = resolve(doc, schema)
    kind = schema.get("type")
    if kind == "object" and depth < 3:
        props = schema.get("properties") or {}
        if props:
            return {k: canary_value(doc, v, depth + 1) for k, v in props.items()}
        return {CANARY: CANARY}
    if kind == "array":
        return [canary_value(doc, schema.get("items") or {}, depth + 1)]
    return CANARY


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, op


def requests_for(doc: dict[str, Any], path: str, op: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The canary in each place this operation takes input, one place at a time."""
    url = path
    for p in op.get("parameters", []):
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", CANARY)
    yield {"url": url}  # the path parameters
    for p in op.get("parameters", []):
        if p["in"] == "query":
            yield {"url": url, "params": {p["name"]: CANARY}}
    content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
    if content:
        body = canary_value(doc, content["schema"])
        if isinstance(body, dict):
            for key in body:
                yield {"url": url, "json": {key: body[key]}}
            yield {"url": url, "json": body}
            yield {"url": url, "json": {CANARY: CANARY}}
        yield {"url": url, "content": CANARY}


def assert_clean(r: Any, where: str) -> None:
    assert r.status_code < 500, (where, r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert CANARY not in r.text, (where, r.status_code, r.text[:300])
        err = r.json()["error"]
        assert isinstance(err["kind"], str) and isinstance(err["message"], str), where


@pytest.mark.parametrize("kind", ["admin", "agent"])
def test_no_rest_error_repeats_a_submitted_value(client, tenant: TenantKit, kind: str):
    doc = client.get("/openapi.json").json()
    sent = 0
    for method, path, op in operations(doc):
        if method == "DELETE" and path == "/api/tokens/{token_id}":
            continue  # would revoke the fuzzing tenant's own tokens (a canary id: 404 anyway)
        for req in requests_for(doc, path, op):
            headers = {**tenant.h(kind)}
            if "content" in req:
                headers["Content-Type"] = "application/json"
            r = client.request(
                method,
                req["url"],
                params=req.get("params"),
                json=req.get("json"),
                content=req.get("content"),
                headers=headers,
            )
            assert_clean(r, f"{method} {path} {sorted(req)}")
            sent += 1
    assert sent > 60  # every operation was reached


def test_no_mcp_refusal_repeats_a_submitted_value(client, tenant: TenantKit, hub_runtime):
    # A connection with a deployed workflow (as `hub workflows deploy` records it), so
    # named tools are offered too.
    with hub_runtime.db.session() as s:
        registry.set_binding_version(s, "send_sms", "twilio", 1)
    try:
        _no_mcp_refusal_repeats_a_submitted_value(client, tenant)
    finally:
        with hub_runtime.db.session() as s:
            registry.set_binding_version(s, "send_sms", "twilio", None)


def _no_mcp_refusal_repeats_a_submitted_value(client, tenant: TenantKit):
    r = client.post(
        "/api/connections",
        headers=tenant.h("admin"),
        json={
            "integration": "twilio",
            "credentials": {
                "account_sid": "AC" + secrets.token_hex(16),
                "auth_token": secrets.token_hex(16),
                "default_from": "+15005550006",
            },
        },
    )
    assert r.status_code == 201, r.text
    tools = post(client, tenant, rpc("tools/list", {})).json()["result"]["tools"]
    assert {"hub_query", "send_sms", "check_authorization"} <= {t["name"] for t in tools}
    calls = [(CANARY, {})]
    for tool in tools:
        props = tool["inputSchema"].get("properties") or {}
        for name in props:
            calls.append((tool["name"], {name: CANARY}))
        calls.append((tool["name"], {k: CANARY for k in props}))
        calls.append((tool["name"], {CANARY: CANARY}))
    for name, arguments in calls:
        r = post(client, tenant, rpc("tools/call", {"name": name, "arguments": arguments}))
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        if result.get("isError"):
            assert CANARY not in json.dumps(result), (name, sorted(arguments), result)
    assert len(calls) > 40
