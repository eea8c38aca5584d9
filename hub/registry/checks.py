"""Catalog checks beyond the file schemas: conventions, tool JSON Schemas, cross-references.

Every check reads the raw parsed files defensively (a broken entry elsewhere must not crash
the linter or hide other problems) and returns LintProblems.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from hub.registry.problems import Doc, LintProblem
from hub.registry.yamlfile import pointer, pointer_escape

_META = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)


# ---------------------------------------------------------------- file schema errors


def schema_problems(doc: Doc, validator: Draft202012Validator) -> list[LintProblem]:
    """Validate one file against its JSON Schema; one problem per offending location."""
    out: list[LintProblem] = []
    for err in validator.iter_errors(doc.data):
        for path, reason in _explain(err, pointer(err.absolute_path)):
            out.append(doc.problem(path, reason))
    return out


def _explain(err: ValidationError, base: str) -> Iterator[tuple[str, str]]:
    """Turn a jsonschema error into (path, reason) pairs that point at the exact field."""
    inst: Any = err.instance
    kind = err.validator
    value: Any = err.validator_value
    if kind == "required" and isinstance(inst, dict):
        for name in value:
            if name not in inst:
                yield f"{base}/{pointer_escape(name)}", f"required field '{name}' is missing"
    elif kind == "additionalProperties" and isinstance(inst, dict):
        known = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
        for name in inst:
            if name not in known:
                yield f"{base}/{pointer_escape(name)}", f"unknown field '{name}'"
    elif kind == "enum":
        allowed = ", ".join(str(v) for v in value)
        yield base, f"must be one of: {allowed} (got {inst!r})"
    elif kind == "const":
        yield base, f"must be {err.validator_value!r} (got {inst!r})"
    elif kind == "format" and err.validator_value == "regex":
        yield base, f"invalid regular expression {inst!r}: {_regex_error(inst)}"
    elif kind == "pattern":
        yield base, f"{inst!r} does not match the pattern {err.validator_value}"
    elif kind == "type":
        yield base, f"must be of type {err.validator_value} (got {type(inst).__name__})"
    else:
        yield base, err.message


def _regex_error(pattern: object) -> str:
    try:
        re.compile(str(pattern))
    except re.error as e:
        return str(e)
    return "not a valid regular expression"


# ---------------------------------------------------------------- integration entries


def integration_problems(doc: Doc) -> list[LintProblem]:
    """Conventions inside each integration entry of one file."""
    out: list[LintProblem] = []
    for i, entry in doc.entries("integrations"):
        base = f"/integrations/{i}"
        category = entry.get("category")
        if isinstance(category, str) and category != doc.stem:
            out.append(
                doc.problem(
                    f"{base}/category",
                    f"category '{category}' does not match the file name '{doc.stem}'",
                )
            )
        fields = [f for f in entry.get("credential_fields") or [] if isinstance(f, dict)]
        out += _field_problems(doc, base, entry.get("credential_fields"))
        if "oauth" in entry and entry.get("auth_type") != "oauth2":
            out.append(doc.problem(f"{base}/oauth", "oauth is only for auth_type oauth2"))
        hooks = entry.get("webhooks")
        if isinstance(hooks, dict) and "secret_field" in hooks:
            names = {f.get("name") for f in fields}
            if hooks["secret_field"] not in names:
                out.append(
                    doc.problem(
                        f"{base}/webhooks/secret_field",
                        f"secret_field '{hooks['secret_field']}' is not one of the "
                        "integration's credential_fields",
                    )
                )
        oauth = entry.get("oauth")
        if isinstance(oauth, dict) and "base_url_field" in oauth:
            found = oauth.get("connections_fields")
            targets = set(found.values()) if isinstance(found, dict) else set()
            names = {f.get("name") for f in fields}
            if oauth["base_url_field"] not in targets & names:
                out.append(
                    doc.problem(
                        f"{base}/oauth/base_url_field",
                        f"base_url_field '{oauth['base_url_field']}' must be a credential "
                        "field that connections_fields fills (its pattern guards the host)",
                    )
                )
        out += _duplicates(doc, f"{base}/capabilities", entry.get("capabilities"), "name")
    return out


def _field_problems(doc: Doc, base: str, fields: Any) -> list[LintProblem]:
    out: list[LintProblem] = []
    if not isinstance(fields, list):
        return out
    out += _duplicates(doc, f"{base}/credential_fields", fields, "name")
    for j, f in enumerate(fields):
        if not isinstance(f, dict):
            continue
        at = f"{base}/credential_fields/{j}"
        if f.get("type") == "password" and f.get("secret") is False:
            out.append(doc.problem(f"{at}/secret", "a password field must be secret: true"))
        if f.get("secret") is True and "example" in f:
            out.append(doc.problem(f"{at}/example", "secret fields must not carry an example"))
        if f.get("type") != "select" and "options" in f:
            out.append(doc.problem(f"{at}/options", "options are only for type select"))
        options = f.get("options")
        if isinstance(options, list) and "default" in f and f["default"] not in options:
            out.append(doc.problem(f"{at}/default", "default must be one of the options"))
        pattern = f.get("pattern")
        if not isinstance(pattern, str) or _regex_error_or_none(pattern):
            continue  # a bad regex is reported by the file schema
        for key in ("example", "default"):
            value = f.get(key)
            if isinstance(value, str) and not re.search(pattern, value):
                out.append(doc.problem(f"{at}/{key}", f"{key} {value!r} does not match pattern"))
    return out


def _regex_error_or_none(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as e:
        return str(e)
    return None


def _duplicates(doc: Doc, base: str, items: Any, key: str) -> list[LintProblem]:
    seen: dict[Any, int] = {}
    out: list[LintProblem] = []
    for j, item in enumerate(items if isinstance(items, list) else []):
        value = item.get(key) if isinstance(item, dict) else None
        if not isinstance(value, str):
            continue
        if value in seen:
            out.append(
                doc.problem(
                    f"{base}/{j}/{key}",
                    f"duplicate {key} '{value}' (first at {base}/{seen[value]})",
                )
            )
        else:
            seen[value] = j
    return out


# ---------------------------------------------------------------- tool entries


def tool_problems(doc: Doc) -> list[LintProblem]:
    """Conventions inside each tool of one file: domain, schemas, providers, routing."""
    out: list[LintProblem] = []
    data = doc.data if isinstance(doc.data, dict) else {}
    file_domain = data.get("domain")
    if isinstance(file_domain, str) and file_domain != doc.stem:
        out.append(doc.problem("/domain", f"domain '{file_domain}' does not match the file name"))
    for i, tool in doc.entries("tools"):
        base = f"/tools/{i}"
        name = tool.get("name")
        domain = tool.get("domain")
        if isinstance(domain, str) and isinstance(file_domain, str) and domain != file_domain:
            out.append(
                doc.problem(
                    f"{base}/domain", f"domain '{domain}' differs from the file's '{file_domain}'"
                )
            )
        for key in ("input_schema", "output_schema"):
            schema = tool.get(key)
            if isinstance(schema, dict):
                out += [doc.problem(p, r) for p, r in json_schema_problems(schema, f"{base}/{key}")]
        props = _props(tool.get("input_schema"))
        for j, secret in enumerate(tool.get("secret_fields") or []):
            if secret not in props:
                out.append(
                    doc.problem(f"{base}/secret_fields/{j}", f"'{secret}' is not an input property")
                )
        out += _provider_problems(doc, base, name, tool)
    return out


def json_schema_problems(schema: dict[str, Any], base: str) -> list[tuple[str, str]]:
    """A tool schema must be valid Draft 2020-12 and follow the hub's conventions."""
    out = [
        (base + pointer(e.absolute_path), f"invalid JSON Schema: {e.message}")
        for e in _META.iter_errors(schema)
    ]
    out += list(_conventions(schema, base, root=True))
    return out


def _conventions(schema: Any, ptr: str, root: bool = False) -> Iterator[tuple[str, str]]:
    """Objects are closed, every property is described, `required` names real properties."""
    if not isinstance(schema, dict):
        return
    props = schema.get("properties")
    if isinstance(props, dict):
        # The root's additionalProperties is already required by the file schema.
        if not root and schema.get("additionalProperties") is not False:
            yield f"{ptr}/additionalProperties", "objects with properties must be closed"
        for name, sub in props.items():
            at = f"{ptr}/properties/{pointer_escape(name)}"
            desc = sub.get("description") if isinstance(sub, dict) else None
            if not (isinstance(desc, str) and desc.strip()):
                yield at, f"property '{name}' needs a description (the LLM reads it)"
            yield from _conventions(sub, at)
        required = schema.get("required")
        for k, req in enumerate(required if isinstance(required, list) else []):
            if req not in props:
                yield f"{ptr}/required/{k}", f"required property '{req}' is not defined"
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _conventions(schema[key], f"{ptr}/{key}")


def _props(schema: Any) -> dict[str, Any]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def _provider_problems(doc: Doc, base: str, tool: Any, entry: dict[str, Any]) -> list[LintProblem]:
    out: list[LintProblem] = []
    providers = [(k, p) for k, p in enumerate(entry.get("providers") or []) if isinstance(p, dict)]
    out += _duplicates(doc, f"{base}/providers", entry.get("providers"), "integration")
    defaults = [k for k, p in providers if p.get("default") is True]
    if providers and not defaults:
        out.append(doc.problem(f"{base}/providers", "exactly one provider must be default"))
    for k in defaults[1:]:
        out.append(
            doc.problem(
                f"{base}/providers/{k}/default",
                f"more than one default provider (first at {base}/providers/{defaults[0]})",
            )
        )
    for k, p in providers:
        integ, workflow = p.get("integration"), p.get("workflow")
        expected = f"{integ}/{tool}"
        if isinstance(integ, str) and isinstance(workflow, str) and workflow != expected:
            out.append(
                doc.problem(f"{base}/providers/{k}/workflow", f"workflow must be '{expected}'")
            )
    out += _routing_problems(doc, base, entry, providers)
    return out


def _routing_problems(
    doc: Doc, base: str, entry: dict[str, Any], providers: list[tuple[int, dict[str, Any]]]
) -> list[LintProblem]:
    """route_by names a required enum input; route_values cover each enum value exactly once."""
    route_by = entry.get("route_by")
    if route_by is None:
        return [
            doc.problem(f"{base}/providers/{k}/route_values", "route_values needs route_by")
            for k, p in providers
            if "route_values" in p
        ]
    raw = entry.get("input_schema")
    schema: dict[str, Any] = raw if isinstance(raw, dict) else {}
    prop = _props(schema).get(route_by)
    enum = prop.get("enum") if isinstance(prop, dict) else None
    if not isinstance(enum, list) or route_by not in (schema.get("required") or []):
        return [
            doc.problem(
                f"{base}/route_by", f"route_by '{route_by}' must be a required input with an enum"
            )
        ]
    out: list[LintProblem] = []
    owner: dict[Any, int] = {}
    for k, p in providers:
        values = p.get("route_values")
        if not isinstance(values, list):
            out.append(doc.problem(f"{base}/providers/{k}/route_values", "required with route_by"))
            continue
        for v in values:
            if v not in enum:
                out.append(
                    doc.problem(
                        f"{base}/providers/{k}/route_values",
                        f"'{v}' is not a value of {route_by}",
                    )
                )
            elif v in owner:
                out.append(
                    doc.problem(
                        f"{base}/providers/{k}/route_values",
                        f"'{v}' is already routed by providers/{owner[v]}",
                    )
                )
            else:
                owner[v] = k
    missing = [v for v in enum if v not in owner]
    if missing and not out:
        out.append(
            doc.problem(f"{base}/route_by", f"no provider handles {route_by} = {missing[0]!r}")
        )
    return out


# ---------------------------------------------------------------- across files


def cross_problems(int_docs: list[Doc], tool_docs: list[Doc]) -> list[LintProblem]:
    """Unique slugs/names/domains; tools and integrations name each other consistently."""
    out: list[LintProblem] = []
    integrations: dict[str, tuple[Doc, int, dict[str, Any]]] = {}
    tools: dict[str, tuple[Doc, int, dict[str, Any]]] = {}
    domains: dict[str, Doc] = {}
    for doc in int_docs:
        for i, entry in doc.entries("integrations"):
            slug = entry.get("slug")
            if not isinstance(slug, str):
                continue
            if slug in integrations:
                first, fi, _ = integrations[slug]
                out.append(
                    doc.problem(
                        f"/integrations/{i}/slug",
                        f"duplicate slug '{slug}' (first in {first.file} at /integrations/{fi})",
                    )
                )
            else:
                integrations[slug] = (doc, i, entry)
    for doc in tool_docs:
        domain = doc.data.get("domain") if isinstance(doc.data, dict) else None
        if isinstance(domain, str):
            if domain in domains:
                out.append(
                    doc.problem(
                        "/domain", f"domain '{domain}' is also declared in {domains[domain].file}"
                    )
                )
            else:
                domains[domain] = doc
        for i, entry in doc.entries("tools"):
            name = entry.get("name")
            if not isinstance(name, str):
                continue
            if name in tools:
                first, fi, _ = tools[name]
                out.append(
                    doc.problem(
                        f"/tools/{i}/name",
                        f"duplicate tool name '{name}' (first in {first.file} at /tools/{fi})",
                    )
                )
            else:
                tools[name] = (doc, i, entry)

    # tool -> integration
    for name, (doc, i, entry) in tools.items():
        for k, p in enumerate(entry.get("providers") or []):
            integ = p.get("integration") if isinstance(p, dict) else None
            if not isinstance(integ, str):
                continue
            at = f"/tools/{i}/providers/{k}/integration"
            if integ not in integrations:
                out.append(doc.problem(at, f"unknown integration '{integ}'"))
            elif name not in (integrations[integ][2].get("tools") or []):
                out.append(
                    doc.problem(
                        at, f"integration '{integ}' does not list tool '{name}' in its tools"
                    )
                )
    # integration -> tool
    for slug, (doc, i, entry) in integrations.items():
        listed = entry.get("tools")
        for k, name in enumerate(listed if isinstance(listed, list) else []):
            at = f"/integrations/{i}/tools/{k}"
            if name not in tools:
                out.append(doc.problem(at, f"unknown tool '{name}'"))
                continue
            provs = tools[name][2].get("providers") or []
            if not any(isinstance(p, dict) and p.get("integration") == slug for p in provs):
                out.append(doc.problem(at, f"tool '{name}' has no provider for '{slug}'"))
    return out
