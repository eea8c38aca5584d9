"""The outputSchema of every tool the hub lists, refusals and errors included.

Clients built on the TypeScript MCP SDK validate each result's structuredContent against the
tool's outputSchema, error results too; a result outside the schema makes the client throw
instead of showing the model the hub's reason. So every schema here admits the refusal shape
({"status": "refused", "error": {kind, message}}) and describes the tool's own data: a
registry tool's `data` is its registry output schema, a hub-native tool's answer is spelled
out below. tests/mcp_results.py checks every result the suite produces against these.
"""

from __future__ import annotations

import copy
from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "message"],
    "properties": {
        "kind": {"type": "string", "description": "Machine-readable: what went wrong."},
        "message": {"type": "string", "description": "What was wrong and what to do next."},
    },
}

STATUSES = ["succeeded", "authorization_required", "failed", "outcome_unknown", "refused"]

REFUSAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "error"],
    "properties": {
        "status": {"const": "refused", "description": "The hub refused the call; nothing ran."},
        "error": ERROR_SCHEMA,
    },
}


def envelope(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The result envelope of a gated call; `data` is the tool's own output schema."""
    return {
        "type": "object",
        "properties": {
            "status": {
                "type": "string",
                "enum": STATUSES,
                "description": "succeeded: data holds the result; authorization_required: "
                "queued for a human (queue_id), nothing sent; failed / outcome_unknown: see "
                "error (outcome_unknown: it may have happened, do not retry blindly); "
                "refused: the hub refused it before anything ran (error says why).",
            },
            "run_id": {"type": ["string", "null"], "description": "The hub's run record."},
            "data": copy.deepcopy(data)
            if data
            else {"type": "object", "description": "The tool's result when succeeded."},
            "error": ERROR_SCHEMA,
            "replayed": {"type": "boolean", "description": "An earlier result for the same key."},
            "queue_id": {"type": "string", "description": "Pass to check_authorization."},
            "reason": {"type": "string", "description": "Why a human must approve."},
            "message": {"type": "string"},
            "expires_at": {"type": "string"},
        },
        "required": ["status"],
    }


def _or_refused(schema: dict[str, Any]) -> dict[str, Any]:
    """A native tool's answer, or the refusal shape."""
    return {"type": "object", "anyOf": [schema, REFUSAL_SCHEMA]}


_OBJ = {"type": "object"}
_ARR = {"type": "array"}
_STR = {"type": "string"}

CAPABILITIES = _or_refused(
    {
        "type": "object",
        "required": ["success", "data"],
        "properties": {
            "success": {"type": "boolean"},
            "data": {
                "type": "object",
                "required": ["domains", "data_types", "integrations"],
                "properties": {
                    "version": _STR,
                    "domains": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["domain", "actions"],
                            "properties": {"domain": _STR, "description": _STR, "actions": _ARR},
                        },
                    },
                    "data_types": _ARR,
                    "integrations": _ARR,
                },
            },
        },
    }
)

QUERY = _or_refused(
    {
        "type": "object",
        "required": ["type", "data"],
        "properties": {
            "type": {"type": "string", "description": "The record type read."},
            "data": {"type": ["array", "object"], "description": "The records, or one record."},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor."},
        },
    }
)

CHECK_AUTHORIZATION = _or_refused(
    {
        "type": "object",
        "required": ["queue_id", "status", "message"],
        "properties": {
            "queue_id": _STR,
            "status": {
                "type": "string",
                "description": "pending, authorized, denied or expired (see message).",
            },
            "message": _STR,
        },
    }
)

INITIATE = _or_refused(
    {
        "type": "object",
        "required": ["integration", "name", "connected", "next_step"],
        "properties": {
            "integration": _STR,
            "name": _STR,
            "status": _STR,
            "auth_type": _STR,
            "connected": {"type": "boolean"},
            "tools": {"type": "array", "items": _STR},
            "setup_instructions": _STR,
            "credential_fields": _ARR,
            "console_url": {"type": "string", "description": "The console page to connect it."},
            "connect_url": {
                "type": "string",
                "description": "OAuth: the link to give the user (it grants nothing by itself).",
            },
            "connection": _OBJ,
            "elicitation": {
                "enum": ["accept", "decline", "cancel"],
                "description": "A client that can open links was asked to open connect_url "
                "for its user (URL-mode elicitation); what the user answered.",
            },
            "next_step": {"type": "string", "description": "What to tell the user."},
        },
    }
)

SUGGEST = _or_refused(
    {
        "type": "object",
        "required": ["need", "candidates", "next_step"],
        "properties": {
            "need": _STR,
            "candidates": {"type": "array", "items": _OBJ},
            "next_step": _STR,
        },
    }
)

NATIVE_OUTPUTS: dict[str, dict[str, Any]] = {
    "hub_capabilities": CAPABILITIES,
    "hub_query": QUERY,
    "check_authorization": CHECK_AUTHORIZATION,
    "initiate_integration": INITIATE,
    "suggest_integration": SUGGEST,
    "disconnect_integration": envelope(None),
}

# hub_action answers like the action it ran: a gated call's envelope or a native answer.
ACTION = {
    "type": "object",
    "anyOf": [
        envelope(None),
        *(s["anyOf"][0] for s in (CHECK_AUTHORIZATION, INITIATE, SUGGEST)),
        REFUSAL_SCHEMA,
    ],
}
NATIVE_OUTPUTS["hub_action"] = ACTION

# A remote result over the hub's size cap (hub.runs.remote.capped).
TRUNCATED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["truncated", "note"],
    "properties": {
        "truncated": {"const": True},
        "original_bytes": {"type": "integer"},
        "note": {"type": "string", "description": "Why the result was cut."},
        "partial": {"type": "string", "description": "The start of the result's JSON."},
    },
}


# The envelope without its descriptions: a tenant may have a thousand remote tools, and every
# tools/list carries each one's schema (the hub's own tools keep the described envelope).
_COMPACT: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": STATUSES},
        "run_id": {"type": ["string", "null"]},
        "error": {"type": "object", "required": ["kind", "message"]},
        "replayed": {"type": "boolean"},
        "queue_id": {"type": "string"},
        "reason": {"type": "string"},
        "message": {"type": "string"},
        "expires_at": {"type": "string"},
    },
}


def remote_envelope(output_schema: dict[str, Any] | None) -> dict[str, Any]:
    """The envelope of a remote tool: `data` is its pinned output schema (or its content
    blocks, {content: [...]}, when it declares none), or the truncation note."""
    out = copy.deepcopy(_COMPACT)
    out["properties"]["data"] = (
        {"anyOf": [copy.deepcopy(output_schema), TRUNCATED_SCHEMA]}
        if output_schema
        else {"type": "object"}
    )
    return out
