"""Removing secret values from anything the hub stores or returns."""

from __future__ import annotations

from typing import Any

REDACTED = "[redacted]"


def redact_fields(args: dict[str, Any], secret_fields: list[str]) -> dict[str, Any]:
    """A copy of `args` with the named top-level fields replaced by a marker."""
    return {k: (REDACTED if k in secret_fields else v) for k, v in args.items()}


def scrub_values(obj: Any, secrets_: list[str]) -> Any:
    """Replace any occurrence of a secret value (length >= 4) inside strings of `obj`."""
    values = [v for v in secrets_ if isinstance(v, str) and len(v) >= 4]
    if not values:
        return obj

    def walk(x: Any) -> Any:
        if isinstance(x, str):
            for v in values:
                if v in x:
                    x = x.replace(v, REDACTED)
            return x
        if isinstance(x, dict):
            return {walk(k): walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(obj)
