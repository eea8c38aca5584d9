"""Checking submitted credential fields against the registry's declaration of them."""

from __future__ import annotations

import json
import re
from typing import Any

from hub.core import limits
from hub.core.errors import HubError

# auth_type -> vault credential kind, for the auth types a form or API call can connect.
DIRECT_KINDS = {
    "api_key": "api_key",
    "service_account": "service_account",
    "webhook_secret": "webhook_secret",
    "n8n_workflow": "api_key",
}


def split_credentials(
    fields: list[dict[str, Any]],
    given: dict[str, Any],
    *,
    partial: bool = False,
) -> tuple[dict[str, str], dict[str, str]]:
    """Validate `given` against the declared fields -> (secret values, plain values).

    Errors name the field and what is expected, never the submitted value.
    `partial` (an update) does not require fields that are absent.
    """
    declared = {f["name"]: f for f in fields}
    problems: list[dict[str, str]] = []
    unknown = [name for name in given if name not in declared]
    if unknown:
        # The names are not repeated: they are the caller's text (a key pasted as a name).
        allowed = ", ".join(declared) or "none"
        problems.append(
            {
                "field": "credentials",
                "message": f"{len(unknown)} field(s) this integration does not take; "
                f"it takes: {allowed}",
            }
        )
    secret: dict[str, str] = {}
    plain: dict[str, str] = {}
    for name, spec in declared.items():
        value = given.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.get("required", True) and not partial:
                problems.append(
                    {
                        "field": f"credentials.{name}",
                        "message": f"required: {spec.get('help') or spec.get('label', name)}",
                    }
                )
            continue
        if spec.get("type") == "json":
            if isinstance(value, dict):
                value = json.dumps(value)
            elif isinstance(value, str):
                try:
                    json.loads(value)
                except ValueError:
                    problems.append(
                        {
                            "field": f"credentials.{name}",
                            "message": "must be a JSON document (paste the whole file)",
                        }
                    )
                    continue
        if not isinstance(value, str):
            problems.append({"field": f"credentials.{name}", "message": "must be a string"})
            continue
        if len(value) > limits.CREDENTIAL_MAX:
            problems.append(
                {
                    "field": f"credentials.{name}",
                    "message": f"must be at most {limits.CREDENTIAL_MAX} characters",
                }
            )
            continue
        value = value.strip()
        pattern = spec.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            hint = f" e.g. {spec['example']}" if spec.get("example") else ""
            problems.append(
                {
                    "field": f"credentials.{name}",
                    "message": f"does not have the expected form ({pattern}){hint}",
                }
            )
            continue
        if spec.get("type") == "select" and spec.get("options") and value not in spec["options"]:
            problems.append(
                {
                    "field": f"credentials.{name}",
                    "message": f"must be one of {', '.join(spec['options'])}",
                }
            )
            continue
        (secret if spec.get("secret") else plain)[name] = value
    if problems:
        first = problems[0]
        raise HubError(
            "invalid_request",
            f"{first['field']}: {first['message']}"
            + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""),
            details={"field": first["field"], "problems": problems},
        )
    return secret, plain
