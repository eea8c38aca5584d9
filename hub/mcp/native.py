"""Hub-native read actions an agent can take: check a queued call, start or suggest a
connection. Agents never handle credentials: initiating a connection tells a human what to do.
Removing a connection is gated like a tool, so it lives with the spine (hub.runs.native).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from hub.approvals.service import present
from hub.audit.service import record
from hub.connections import links
from hub.connections import service as connections
from hub.core.callers import Caller
from hub.permissions import queue
from hub.registry import service as registry

_STOP = frozenset(
    {"the", "and", "for", "with", "from", "that", "this", "into", "your", "our", "their"}
    | {"can", "will", "need", "needs", "want", "send", "sends", "make", "using", "use", "are"}
)


def check_authorization(s: Session, caller: Caller, queue_id: str) -> dict[str, Any]:
    """The state of one of this agent's queued calls (its result once it ran)."""
    auth = queue.get_authorization(s, caller, queue_id)
    out = present(s, auth)
    out.pop("agent_token_id", None)
    return out


def initiate_integration(s: Session, caller: Caller, slug: str, base_url: str) -> dict[str, Any]:
    """What a human must do to connect an integration (steps, fields, where)."""
    integ = registry.get_integration(s, slug)
    d = integ.definition or {}
    conn = connections.connection_for(s, caller.tenant_id, integ.slug)
    out: dict[str, Any] = {
        "integration": integ.slug,
        "name": integ.name,
        "status": integ.status,
        "auth_type": integ.auth_type,
        "connected": conn is not None and conn.status in connections.USABLE_STATUSES,
        "tools": sorted(
            t.name
            for t in registry.list_tools(s)
            if any(p.integration_slug == integ.slug for p in registry.providers_for(s, t.name))
        ),
    }
    # A flow someone started and never finished (pending_setup) is not a connection yet.
    if conn is not None and conn.status != "pending_setup":
        out["connection"] = {"id": conn.id, "status": conn.status}
        out["next_step"] = f"{integ.name} is already connected (status {conn.status}). " + (
            "It works now."
            if conn.status in connections.USABLE_STATUSES
            else "An admin must update its credentials in the console."
        )
        return out
    if integ.status not in ("available", "beta"):
        out["next_step"] = (
            f"{integ.name} is {integ.status.replace('_', ' ')} in this hub and cannot be "
            "connected yet. Use suggest_integration to find an alternative."
        )
        return out
    out["setup_instructions"] = d.get("setup_instructions", "")
    out["credential_fields"] = [
        {k: f.get(k) for k in ("name", "label", "secret", "required", "help")}
        for f in d.get("credential_fields", [])
    ]
    # The console's own connect page for this integration (hub.web.integrations).
    out["console_url"] = f"{base_url}/integrations/{integ.slug}/connect"
    if integ.auth_type == "oauth2":
        # A single-use, expiring link that grants nothing: an owner or admin of this tenant
        # must be signed in to the console to follow it (hub.connections.links).
        raw = links.create_link(s, caller.tenant_id, integ.slug, caller.actor)
        out["console_url"] = f"{base_url}/integrations#{integ.slug}"
        out["connect_url"] = f"{base_url}/connect/{raw}"
        how = (
            f"Give the user this link: {out['connect_url']}. An owner or admin signs in, "
            f"clicks Connect with {integ.name} and approves access at {integ.name}. The link "
            "works once and expires in 24 hours; call initiate_integration again for a new one."
        )
    else:
        how = (
            f"An admin enters the credential fields on the console's connect page "
            f"({out['console_url']}), or POSTs them to {base_url}/api/connections with an "
            f'admin token: {{"integration": "{integ.slug}", "credentials": {{...}}}}.'
        )
    out["next_step"] = (
        f"{how} Never ask the user to paste credentials into this chat; the hub keeps "
        "them encrypted and you will never see them. Once connected, its tools appear in "
        "your tool list."
    )
    record(
        s,
        caller.tenant_id,
        caller.actor,
        "integration.initiated",
        target=integ.slug,
        integration=integ.slug,
    )
    return out


def suggest_integration(
    s: Session, caller: Caller, need: str, slug: str | None = None
) -> dict[str, Any]:
    """Integrations that match a need, best first; the suggestion is audited for admins."""
    words = {w for w in re.findall(r"[a-z0-9]+", need.lower()) if len(w) > 2 and w not in _STOP}
    linked = connections.connected_integrations(s, caller.tenant_id)
    tools_by: dict[str, list[str]] = {}
    for t in registry.list_tools(s):
        for p in registry.providers_for(s, t.name):
            tools_by.setdefault(p.integration_slug, []).append(t.name)
    scored = []
    for integ in registry.list_integrations(s):
        d = integ.definition or {}
        text = " ".join(
            [
                integ.slug,
                integ.name,
                integ.category,
                integ.description,
                *(c.get("description", "") for c in d.get("capabilities", [])),
                *tools_by.get(integ.slug, []),
            ]
        ).lower()
        score = sum(1 for w in words if w in text) + (5 if slug and integ.slug == slug else 0)
        if score:
            usable = integ.status in ("available", "beta")
            scored.append((score + (1 if usable else 0), integ, usable))
    scored.sort(key=lambda x: (-x[0], x[1].slug))
    candidates: list[dict[str, Any]] = [
        {
            "integration": i.slug,
            "name": i.name,
            "category": i.category,
            "status": i.status,
            "connected": i.slug in linked,
            "can_connect": usable,
            "tools": sorted(tools_by.get(i.slug, [])),
        }
        for _, i, usable in scored[:5]
    ]
    record(
        s,
        caller.tenant_id,
        caller.actor,
        "integration.suggested",
        target=slug or (candidates[0]["integration"] if candidates else None),
        integration=slug,
        details={"need": need[:500], "candidates": [c["integration"] for c in candidates]},
    )
    return {
        "need": need,
        "candidates": candidates,
        "next_step": "Suggestion recorded for an admin. To connect one, call "
        "initiate_integration with its slug and pass the steps on to the user."
        if candidates
        else "No integration in this hub matches that need; the suggestion was recorded.",
    }
