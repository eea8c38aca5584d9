"""Bounds on what a caller may send, in one place, checked before anything else.

Every edge (the REST call route, every MCP tool, hub_action, the console's forms) runs
check_call() or check_text() first, before any registry, permission or deployment lookup, so
a value is refused the same way whichever door it came through. The schemas the hub
publishes (tool input schemas, REST bodies) state the same numbers. Refusals name the field
and the rule, never the value.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints

from hub.core.errors import HubError

REASONING_MAX = 4000
IDEMPOTENCY_KEY_MAX = 200
NOTE_MAX = 2000
LABEL_MAX = 200
URL_MAX = 500
CREDENTIAL_MAX = 32 * 1024  # one credential field (a service account's JSON key fits)
NAME_MAX = 64  # a tool, integration or domain name
ID_MAX = 100  # a record id, slug or page cursor
SEARCH_MAX = 200
# A call's arguments: however the tool's own schema limits them, never more than this.
ARG_STRING_MAX = 100_000
ARG_ITEMS_MAX = 1_000
ARG_DEPTH_MAX = 16
ARGS_BYTES_MAX = 256 * 1024


def _refuse(field: str, rule: str) -> HubError:
    return HubError("invalid_request", f"{field}: {rule}.", details={"field": field})


def check_text(value: Any, field: str, *, max_len: int, min_len: int = 0) -> str:
    """A string within bounds and without NUL characters (the databases cannot store them)."""
    if not isinstance(value, str):
        raise _refuse(field, "must be a string")
    if len(value) > max_len:
        raise _refuse(field, f"must be at most {max_len} characters")
    if len(value) < min_len:
        raise _refuse(field, f"must be at least {min_len} character(s)")
    if "\x00" in value:
        raise _refuse(field, "must not contain NUL characters")
    return value


def check_optional_text(value: Any, field: str, *, max_len: int) -> str | None:
    """check_text() for an optional field: None stays None; an empty string is refused."""
    if value is None:
        return None
    return check_text(value, field, max_len=max_len, min_len=1)


def check_json(value: Any, field: str) -> None:
    """A JSON value within the argument bounds: string length, items, depth, total size."""
    _walk(value, field, 0)
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise _refuse(field, "must be JSON") from None
    if size > ARGS_BYTES_MAX:
        raise _refuse(field, f"must be at most {ARGS_BYTES_MAX} bytes as JSON")


def _walk(value: Any, field: str, depth: int) -> None:
    if depth > ARG_DEPTH_MAX:
        raise _refuse(field, f"must nest at most {ARG_DEPTH_MAX} levels deep")
    if isinstance(value, str):
        check_text(value, field, max_len=ARG_STRING_MAX)
    elif isinstance(value, dict):
        if len(value) > ARG_ITEMS_MAX:
            raise _refuse(field, f"must have at most {ARG_ITEMS_MAX} keys")
        for k, v in value.items():
            # Keys are not quoted back: they are as much the caller's text as values.
            check_text(k, f"{field} (a key)", max_len=200)
            _walk(v, f"{field}.{k}" if _plain(k) else field, depth + 1)
    elif isinstance(value, list):
        if len(value) > ARG_ITEMS_MAX:
            raise _refuse(field, f"must have at most {ARG_ITEMS_MAX} items")
        for i, v in enumerate(value):
            _walk(v, f"{field}[{i}]", depth + 1)


def _plain(key: str) -> bool:
    """Whether a key is a short identifier, safe to name in a field path."""
    return len(key) <= 64 and key.replace("_", "").isalnum() and key.isascii()


def check_call(
    args: Any, reasoning: Any = None, idempotency_key: Any = None, *, field: str = "args"
) -> None:
    """The bounds of one tool call, the same on REST, MCP and hub_action."""
    if not isinstance(args, dict):
        raise _refuse(field, "must be a JSON object")
    check_json(args, field)
    check_optional_text(reasoning, "reasoning", max_len=REASONING_MAX)
    check_optional_text(idempotency_key, "idempotency_key", max_len=IDEMPOTENCY_KEY_MAX)


def _iso_only(value: Any) -> Any:
    """Refuse numbers where a date-time is asked for (pydantic would take them as epochs)."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    ):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-01-15T09:00:00Z")
    return value


# A date-time query parameter: ISO 8601 text only (documented as format date-time).
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
# Names and ids in paths and queries, with the bounds the OpenAPI document states.
NameParam = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX)]
IdParam = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX)]
SearchParam = Annotated[str, StringConstraints(min_length=1, max_length=SEARCH_MAX)]
