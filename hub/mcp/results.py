"""Turning hub outcomes and refusals into MCP tool results (structured content + short text)."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from hub.core.errors import HubError

TEXT_LIMIT = 8000


def _dump(obj: Any) -> str:
    text = json.dumps(obj, default=str, separators=(",", ":"), ensure_ascii=False)
    return (
        text
        if len(text) <= TEXT_LIMIT
        else text[:TEXT_LIMIT] + "...(truncated; see structured content)"
    )


def ok(data: dict[str, Any], summary: str) -> types.CallToolResult:
    """A successful result: the data as structured content, a summary plus JSON as text."""
    return types.CallToolResult(
        content=[types.TextContent(text=f"{summary}\n{_dump(data)}")],
        structured_content=data,
    )


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
        body.pop("error", None)  # REST uses it for the 202; for MCP a queued call is no error
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
