"""The tools a tenant sees: Layer 1 (hub_*), hub-native tools, and Layer 2 from the registry.

Listings are built from the registry at request time and cached per (registry revision,
the tenant's connected integrations, policy file), so a connect, a disconnect or a catalog
change shows up on the next tools/list without any restart.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

import mcp_types as types
from sqlalchemy.orm import Session

from hub.connections.service import connected_integrations
from hub.core import limits
from hub.core.reads import may_read
from hub.federation import service as federation
from hub.mcp.outputs import NATIVE_OUTPUTS, envelope, remote_envelope
from hub.permissions.policy import AmountThreshold, MaxItems, SettledRefund, current_policy
from hub.registry.capabilities import DATA_TYPES
from hub.registry.service import capabilities, registry_revision

# Arguments the hub adds to every Layer-2 tool (and strips before the vendor call).
RESERVED = ("reasoning", "idempotency_key")

REASONING_PROP = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.REASONING_MAX,
    "description": "Why you are taking this action. Required for soft_limit actions; it is "
    "audited and shown to the human who reviews a queued call.",
}
IDEMPOTENCY_PROP = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.IDEMPOTENCY_KEY_MAX,
    "description": "Optional key of your own: retrying with the same key has one effect "
    "(returns the earlier result), and a queued call's result is fetched by retrying with it.",
}

LEVEL_TEXT = {
    "unrestricted": "Permission: unrestricted (runs immediately).",
    "soft_limit": "Permission: soft_limit (runs immediately, but `reasoning` is required "
    "and audited).",
    "requires_authorization": "Permission: requires_authorization (queued for a human; the "
    "result says status authorization_required with a queue_id and nothing is sent until a "
    "human approves; then poll check_authorization or retry with the same idempotency_key).",
}

# The envelope every Layer-2 result has (structured content), refusals included.
RESULT_SCHEMA: dict[str, Any] = envelope(None)

_SLUG_PROP = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.NAME_MAX,
    "description": "Slug, e.g. twilio.",
}

_DOMAIN_PROP = {
    "type": "string",
    "maxLength": limits.NAME_MAX,
    "description": "Optional: only this domain (e.g. messaging, payments, connections). "
    "Omit to list everything.",
}

LAYER1: tuple[types.Tool, ...] = (
    types.Tool(
        name="hub_capabilities",
        title="Discover what this hub can do",
        description="Call this first. Lists every domain and action (tool) this hub knows, "
        "with parameter schemas, permission levels (unrestricted, soft_limit: needs "
        "reasoning, requires_authorization: queued for a human), the integrations that "
        "provide them and whether this business has connected them; plus the data types "
        "hub_query can read. Generated from the registry, so it is never stale.",
        input_schema={
            "type": "object",
            "properties": {"domain": _DOMAIN_PROP},
            "additionalProperties": False,
        },
        annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
    ),
    types.Tool(
        name="hub_query",
        title="Read the hub's records",
        description="Read this business's hub records: integrations (catalog and "
        "connection state), connections (health; credentials only as masked hints), tools, "
        "runs (tool calls and results), authorizations (calls queued for a human) and the "
        "audit log. Filter with `filters` (see hub_capabilities data_types), expand with "
        "`include`, page with `cursor`. Read-only.",
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {
                "type": {
                    "type": "string",
                    # MCP serves agents: only what an agent may read (hub.core.reads).
                    "enum": [d["type"] for d in DATA_TYPES if may_read("agent", d["type"])],
                    "description": "What to read.",
                },
                "id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": limits.ID_MAX,
                    "description": "Get one record by id (or slug).",
                },
                "search": {
                    "type": "string",
                    "maxLength": 200,
                    "description": "Text to look for (names, slugs, tools, actions).",
                },
                "filters": {
                    "type": "object",
                    "maxProperties": 10,
                    "description": "Type-specific filters, e.g. {status: 'failed'} for runs.",
                },
                "include": {
                    "type": "array",
                    "maxItems": 10,
                    "items": {"type": "string", "maxLength": 40},
                    "description": "Details to expand, e.g. ['args', 'result'] for runs.",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 100,
                    "default": 20,
                    "description": "Max results (default 20, max 100).",
                },
                "cursor": {
                    "type": "string",
                    "maxLength": limits.ID_MAX,
                    "description": "next_cursor of a previous page.",
                },
            },
        },
        annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
    ),
    types.Tool(
        name="hub_action",
        title="Run any hub action",
        description="Run any action by domain and name (see hub_capabilities): a registry "
        "tool such as domain 'messaging', action 'send_sms', data {to, body}; or a hub action "
        "such as domain 'connections', action 'initiate_integration'. It goes through exactly "
        "the same checks as calling the named tool: schema validation, the permission level "
        "(give `reasoning` for soft_limit actions; requires_authorization actions are queued "
        "for a human and return a queue_id), idempotency and routing.",
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["domain", "action", "data"],
            "properties": {
                "domain": {
                    "type": "string",
                    "maxLength": limits.NAME_MAX,
                    "description": "Action domain, e.g. payments.",
                },
                "action": {
                    "type": "string",
                    "maxLength": limits.NAME_MAX,
                    "description": "Action name, e.g. charge_card.",
                },
                "data": {"type": "object", "description": "The action's parameters."},
                "reasoning": REASONING_PROP,
                "idempotency_key": IDEMPOTENCY_PROP,
            },
        },
        annotations=types.ToolAnnotations(destructive_hint=True, open_world_hint=True),
    ),
)

NATIVE: tuple[types.Tool, ...] = (
    types.Tool(
        name="check_authorization",
        title="Check a queued call",
        description="Check a call that was queued for a human (its queue_id): pending, "
        "authorized (with the call's result once it ran), denied (with the human's note) or "
        "expired. Poll it after telling the user what awaits their approval.",
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["queue_id"],
            "properties": {
                "queue_id": {
                    "type": "string",
                    "maxLength": limits.ID_MAX,
                    "description": "From authorization_required.",
                }
            },
        },
        annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
    ),
    types.Tool(
        name="initiate_integration",
        title="Start connecting an integration",
        description="Start connecting an integration for this business: returns what an "
        "admin must do (setup steps, which credential fields to enter, where in the console "
        "or API). Agents never handle credentials themselves; tell the user these steps.",
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["integration"],
            "properties": {"integration": _SLUG_PROP},
        },
        annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
    ),
    types.Tool(
        name="suggest_integration",
        title="Suggest an integration for a need",
        description="Find integrations that would let you do something this business has "
        "not connected yet, and record the suggestion for an admin (audited). Give the need "
        "in words, optionally a slug you have in mind.",
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["need"],
            "properties": {
                "need": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500,
                    "description": "What you need to do, e.g. 'send appointment reminders by SMS'.",
                },
                "integration": {**_SLUG_PROP, "description": "Optional slug you suggest."},
            },
        },
        annotations=types.ToolAnnotations(open_world_hint=False),
    ),
    types.Tool(
        name="disconnect_integration",
        title="Disconnect an integration",
        description="Remove this business's connection to an integration and destroy its "
        "stored credential. Permission: soft_limit (`reasoning` required); a connection "
        "that has been used is history, so removing it is queued for a human "
        "(requires_authorization) and returns a queue_id.",
        input_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["integration"],
            "properties": {
                "integration": _SLUG_PROP,
                "reasoning": REASONING_PROP,
                "idempotency_key": IDEMPOTENCY_PROP,
            },
        },
        annotations=types.ToolAnnotations(destructive_hint=True, open_world_hint=False),
    ),
)
# Each hub tool advertises the shape of its own answer (hub.mcp.outputs).
LAYER1 = tuple(t.model_copy(update={"output_schema": NATIVE_OUTPUTS[t.name]}) for t in LAYER1)
NATIVE = tuple(t.model_copy(update={"output_schema": NATIVE_OUTPUTS[t.name]}) for t in NATIVE)
NATIVE_NAMES = frozenset(t.name for t in LAYER1) | frozenset(t.name for t in NATIVE)
# Domains of hub-native actions (hub_action and hub_capabilities).
NATIVE_DOMAINS: dict[str, tuple[str, ...]] = {
    "connections": ("initiate_integration", "suggest_integration", "disconnect_integration"),
    "authorizations": ("check_authorization",),
}


def _policy_notes(tool: str) -> list[str]:
    """Plain-words notes on the policy rules that can raise this tool's level."""
    notes = []
    for rule in current_policy().spec.rules:
        if isinstance(rule, AmountThreshold) and tool in rule.tools:
            notes.append(
                f"A {rule.field} over this business's limit (default {rule.default_max} minor "
                "units) is queued for a human."
            )
        elif isinstance(rule, SettledRefund) and tool in rule.tools:
            notes.append(
                "Refunding a payment not charged through this hub in the last "
                f"{rule.settle_after_hours:g} hours (a settled charge) is queued for a human."
            )
        elif isinstance(rule, MaxItems) and (rule.tools is None or tool in rule.tools):
            notes.append(
                f"A call touching more than {rule.max_items} items (recipients, lines...) "
                "is queued for a human."
            )
    return notes


def registry_tool(action: dict[str, Any]) -> types.Tool:
    """A Layer-2 tool from a capabilities action (schema plus the hub's two arguments)."""
    schema = copy.deepcopy(action["parameters"])
    props = dict(schema.get("properties") or {})
    props.setdefault("reasoning", REASONING_PROP)
    props.setdefault("idempotency_key", IDEMPOTENCY_PROP)
    schema["properties"] = props
    schema.setdefault("type", "object")
    if action["permission"] == "soft_limit":
        schema["required"] = sorted({*schema.get("required", []), "reasoning"})
    connected = [p["integration"] for p in action["providers"] if p["connected"]]
    read_only = bool(action.get("read_only", False))
    parts = [
        action["description"].strip(),
        LEVEL_TEXT.get(action["permission"], ""),
        *_policy_notes(action["name"]),
        f"Connected provider(s): {', '.join(connected)}." if connected else "",
    ]
    return types.Tool(
        name=action["name"],
        title=action["title"],
        description="\n\n".join(p for p in parts if p),
        input_schema=schema,
        # The envelope around this tool's own output schema (what `data` holds).
        output_schema=envelope(action.get("returns")),
        annotations=types.ToolAnnotations(
            title=action["title"],
            read_only_hint=read_only,
            destructive_hint=not read_only and action["permission"] != "unrestricted",
            # A retry with the same idempotency_key has one effect (the hub replays it).
            idempotent_hint=read_only,
            open_world_hint=True,
        ),
    )


def remote_tool(o: federation.Offered) -> types.Tool:
    """An approved tool of an admin-registered MCP server, as the pinned definition says."""
    d = o.definition
    schema = copy.deepcopy(d.get("input_schema") or {"type": "object"})
    props = dict(schema.get("properties") or {})
    props.setdefault("reasoning", REASONING_PROP)
    props.setdefault("idempotency_key", IDEMPOTENCY_PROP)
    schema["properties"] = props
    schema.setdefault("type", "object")
    if o.permission == "soft_limit":
        schema["required"] = sorted({*schema.get("required", []), "reasoning"})
    parts = [
        (d.get("description") or "").strip(),
        f"From the MCP server '{o.server}', registered and approved by this business's admin.",
        LEVEL_TEXT.get(o.permission, ""),
    ]
    ann = dict(d.get("annotations") or {})
    ann["openWorldHint"] = True
    return types.Tool(
        name=o.name,
        title=d.get("title") or ann.get("title"),
        description="\n\n".join(p for p in parts if p),
        input_schema=schema,
        output_schema=remote_envelope(d.get("output_schema")),
        annotations=types.ToolAnnotations.model_validate(ann),
    )


class ToolCatalog:
    """Per-tenant tool listings, cached by what they depend on."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._cache: OrderedDict[tuple[Any, ...], list[types.Tool]] = OrderedDict()
        self._lock = threading.Lock()

    def fingerprint(self, s: Session, tenant_id: str) -> tuple[Any, ...]:
        """What a tenant's listing depends on: registry revision, connections, policy, and
        its own MCP servers (then the tenant itself: two tenants' servers may count alike)."""
        policy = current_policy()
        remote = federation.revision(s, tenant_id)
        return (
            registry_revision(s),
            frozenset(connected_integrations(s, tenant_id)),
            id(policy),
            remote,
            tenant_id if remote[0] or remote[2] else None,
        )

    def tools_for(self, s: Session, tenant_id: str) -> list[types.Tool]:
        """Layer 1, the hub-native tools, then every registry tool the tenant can use."""
        return self.listing(s, tenant_id)[1]

    def listing(self, s: Session, tenant_id: str) -> tuple[tuple[Any, ...], list[types.Tool]]:
        """The tenant's tools and the fingerprint they were built for."""
        key = self.fingerprint(s, tenant_id)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return key, hit
        doc = capabilities(s, set(key[1]))
        layer2 = [
            registry_tool(a)
            for d in doc["data"]["domains"]
            for a in d["actions"]
            if a["available"] and a["name"] not in NATIVE_NAMES
        ]
        # Remote tools come from the hub's cache of the server's listing: no remote call.
        remote = [remote_tool(o) for o in federation.offered(s, tenant_id)]
        tools = [*LAYER1, *NATIVE, *sorted(layer2, key=lambda t: t.name), *remote]
        with self._lock:
            self._cache[key] = tools
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return key, tools
