"""Pinning (SECURITY 27): what a remote tool's hash covers, the permission the hub proposes,
how a change reads as a diff, and how a rename is told from a fresh tool."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

# What an agent acts on: a change to any of these holds the tool.
PINNED_FIELDS = ("name", "title", "description", "input_schema", "output_schema", "annotations")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_MCP_NAME = re.compile(r"[^A-Za-z0-9_.-]")
EXPOSED_MAX = 64


def canonical(definition: dict[str, Any]) -> dict[str, Any]:
    """The pinned fields of a tool definition, absent ones as null."""
    return {k: definition.get(k) for k in PINNED_FIELDS}


def tool_hash(definition: dict[str, Any]) -> str:
    """SHA-256 over the pinned fields in canonical JSON."""
    text = json.dumps(canonical(definition), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def schema_hash(definition: dict[str, Any]) -> str:
    """SHA-256 over the schemas only (a renamed tool keeps them)."""
    pair = {"i": definition.get("input_schema"), "o": definition.get("output_schema")}
    text = json.dumps(pair, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def proposed_permission(annotations: dict[str, Any] | None) -> str:
    """readOnlyHint -> unrestricted; destructiveHint -> requires_authorization; else
    soft_limit. A server's hints are claims, so the admin sees and may change the level."""
    a = annotations or {}
    if a.get("readOnlyHint") is True and a.get("destructiveHint") is not True:
        return "unrestricted"
    if a.get("destructiveHint") is True:
        return "requires_authorization"
    return "soft_limit"


def exposed_name(server: str, tool: str) -> str:
    """<server>__<tool> as a valid MCP tool name of at most 64 characters; an unusual or
    long remote name keeps a short hash so two tools never share a name."""
    clean = _MCP_NAME.sub("_", tool)
    name = f"{server}__{clean}"
    if clean != tool or len(name) > EXPOSED_MAX:
        tag = hashlib.sha256(tool.encode()).hexdigest()[:8]
        name = f"{name[: EXPOSED_MAX - 9]}_{tag}"
    return name


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between the approved definition and the listed one, field by field."""
    before = canonical(old or {})
    after = canonical(new)
    return [
        {"field": k, "before": before[k], "after": after[k]}
        for k in PINNED_FIELDS
        if before[k] != after[k]
    ]


@dataclass(frozen=True)
class Listed:
    """A tool as the remote server listed it, normalised."""

    name: str
    definition: dict[str, Any]

    @property
    def hash(self) -> str:
        """Its pin hash."""
        return tool_hash(self.definition)


def definition_of(tool: Any) -> dict[str, Any]:
    """The pinned definition of an SDK Tool (JSON forms of schemas and annotations)."""
    ann = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
    return {
        "name": tool.name,
        "title": tool.title,
        "description": tool.description or "",
        "input_schema": tool.input_schema or {"type": "object"},
        "output_schema": tool.output_schema,
        "annotations": ann or None,
    }
