"""Turning hub outcomes and refusals into MCP tool results (structured content + short text)."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from hub.core.errors import HubError

# The spec asks for the serialized JSON in a text block too; this only caps runaway sizes.
TEXT_LIMIT = 200_000


def _dump(obj: Any) -> str:
    text = json.dumps(obj, default=str, separators=(",", ":"), ensure_ascii=False)
    return (
        text
        if len(text) <= TEXT_LIMIT
        else text[:TEXT_LIMIT] + "...(truncated; see structured content)"
    )


def text(data: dict[str, Any], summary: str) -> str:
    """The text block of a result: a summary line, then the data as JSON (the spec asks
    tools that return structured content to include it serialized, for older clients)."""
    return f"{summary}\n{_dump(data)}"


def ok(data: dict[str, Any], summary: str) -> types.CallToolResult:
    """A successful result: the data as structured content, a summary plus JSON as text."""
    return prerendered(data, text(data, summary))


def prerendered(data: dict[str, Any], rendered: str) -> types.CallToolResult:
    """A successful result whose text was rendered (and perhaps cached) already."""
    return types.CallToolResult(content=[types.TextContent(text=rendered)], structured_content=data)


def refusal(err: HubError) -> types.CallToolResult:
    """A refusal as a tool error the model can act on (error.kind is machine-readable)."""
    body = err.to_dict()
    return types.CallToolResult(
        content=[types.TextContent(text=f"Refused ({err.kind}): {err.message}")],
        structured_content={"status": "refused", **body},
        is_error=True,
    )


def outcome(tool: str, o: Any) -> types.CallToolResult:
    """A call outcome: succeeded and queued are results; failures are tool errors."""
    body = o.to_dict()
    if o.status == "authorization_required":
        text = f"{tool}: {body['message']}\nWhy: {body.get('reason', '')}"
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=body)
    if o.status == "succeeded":
        again = " (earlier result for this idempotency key)" if o.replayed else ""
        summary = f"{tool} succeeded{again}; run {o.run_id}." if o.run_id else f"{tool} succeeded."
        return types.CallToolResult(
            content=[types.TextContent(text=f"{summary}\n{_dump(body.get('data') or {})}")],
            structured_content=body,
        )
    err = body.get("error") or {}
    text = f"{tool} {o.status} ({err.get('kind', o.status)}): {err.get('message', '')}"
    if o.run_id:
        text += f" [run {o.run_id}]"
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=body, is_error=True
    )
