"""Validating tool arguments against the registry's JSON Schema (the MCP SDK does not)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from hub.core import caches
from hub.core.errors import HubError


@lru_cache(maxsize=1024)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker())


# Validators by schema object: the call path validates against the same few registry dicts,
# and serialising one to find its cached validator costs more than validating.
_by_object: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}
caches.register(_by_object.clear)
caches.register(_validator.cache_clear)


def _validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    hit = _by_object.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    if len(_by_object) > 1024:
        _by_object.clear()
    v = _validator(schema_key(schema))
    # Holding the dict keeps its id from being reused by another object.
    _by_object[id(schema)] = (schema, v)
    return v


def schema_key(schema: dict[str, Any]) -> str:
    """A stable text form of a schema, used as the validator cache key."""
    return json.dumps(schema, sort_keys=True)


def validate_args(
    tool: str, schema: dict[str, Any], args: Any, secret_fields: list[str] | None = None
) -> None:
    """Raise invalid_request naming every bad field; secret fields' values are never quoted."""
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
        path = ".".join(str(p) for p in e.absolute_path) or "(arguments)"
        top = str(e.absolute_path[0]) if e.absolute_path else ""
        if top in secret:
            msg = f"invalid value ({e.validator} check failed)"
        elif e.validator == "required":
            msg = e.message
        elif e.validator == "additionalProperties":
            allowed = ", ".join(sorted(schema.get("properties", {})))
            msg = f"{e.message}; {tool} takes: {allowed}"
        else:
            msg = e.message
            desc = e.schema.get("description") if isinstance(e.schema, dict) else None
            if desc:
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
