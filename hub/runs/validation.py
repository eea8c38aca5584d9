"""Validating tool arguments against the registry's JSON Schema (the MCP SDK does not)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from hub.core import caches
from hub.core.errors import HubError


@lru_cache(maxsize=1024)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker())


caches.register(_validator.cache_clear)
# Validators by schema object: the call path validates against the same few registry dicts.
_validator_for = caches.ByObject(lambda schema: _validator(schema_key(schema))).get


def schema_key(schema: dict[str, Any]) -> str:
    """A stable text form of a schema, used as the validator cache key."""
    return json.dumps(schema, sort_keys=True)


def validate_args(
    tool: str, schema: dict[str, Any], args: Any, secret_fields: list[str] | None = None
) -> None:
    """Raise invalid_request naming every bad field and its rule; values are never quoted."""
    if not isinstance(args, dict):
        raise HubError(
            "invalid_request",
            f"Arguments of {tool} must be a JSON object.",
            details={"field": "args"},
        )
    errors = sorted(_validator_for(schema).iter_errors(args), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    problems = []
    secret = set(secret_fields or [])
    for e in errors[:10]:
        path = _path(schema, list(e.absolute_path))
        top = str(e.absolute_path[0]) if e.absolute_path else ""
        if top in secret:
            msg = f"invalid value ({e.validator} check failed)"
        else:
            msg = rule_text(e)
            desc = e.schema.get("description") if isinstance(e.schema, dict) else None
            if desc and e.validator not in ("required", "additionalProperties"):
                msg += f" (expected: {desc})"
        problems.append({"field": path, "message": msg})
    first = problems[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise HubError(
        "invalid_request",
        f"{tool}: {first['field']}: {first['message']}{more}. "
        f"See the tool's input schema (hub_capabilities) for the expected shape.",
        details={"field": f"args.{first['field']}", "problems": problems},
    )


def _path(schema: dict[str, Any], parts: list[Any]) -> str:
    """The path of a bad value, naming only what the schema declares (keys a caller made up
    are shown as '*': they are the caller's text, as much as the values)."""
    out: list[str] = []
    node: Any = schema
    for part in parts:
        if isinstance(part, int):
            out.append(str(part))
            node = node.get("items") if isinstance(node, dict) else None
            continue
        props = node.get("properties") if isinstance(node, dict) else None
        if isinstance(props, dict) and part in props:
            out.append(str(part))
            node = props[part]
        else:
            out.append("*")
            node = None
    return ".".join(out) or "(arguments)"


def rule_text(e: ValidationError) -> str:
    """What a JSON Schema rule asks, in words, from the schema alone (never the value)."""
    v: Any = e.validator_value
    kind = e.validator
    if kind == "required":
        have = e.instance if isinstance(e.instance, dict) else {}
        missing = [str(name) for name in v if name not in have]
        return f"required field(s) missing: {', '.join(missing)}"
    if kind == "additionalProperties":
        declared = sorted((e.schema.get("properties") or {}) if isinstance(e.schema, dict) else {})
        return f"has field(s) it does not take; it takes: {', '.join(declared) or 'none'}"
    simple = {
        "type": lambda: f"must be of type {' or '.join(v) if isinstance(v, list) else v}",
        "enum": lambda: f"must be one of: {', '.join(str(x) for x in v)}",
        "const": lambda: f"must be {json.dumps(v)}",
        "pattern": lambda: f"must match the pattern {v}",
        "format": lambda: f"must be a valid {v}",
        "minLength": lambda: f"must be at least {v} character(s)",
        "maxLength": lambda: f"must be at most {v} characters",
        "minimum": lambda: f"must be at least {v}",
        "maximum": lambda: f"must be at most {v}",
        "exclusiveMinimum": lambda: f"must be more than {v}",
        "exclusiveMaximum": lambda: f"must be less than {v}",
        "multipleOf": lambda: f"must be a multiple of {v}",
        "minItems": lambda: f"must have at least {v} item(s)",
        "maxItems": lambda: f"must have at most {v} items",
        "uniqueItems": lambda: "must not repeat an item",
        "minProperties": lambda: f"must have at least {v} field(s)",
        "maxProperties": lambda: f"must have at most {v} fields",
    }
    if kind in simple:
        return simple[kind]()
    if kind in ("oneOf", "anyOf"):
        return "does not match any of the allowed shapes"
    return f"is invalid (the {kind} rule)"
