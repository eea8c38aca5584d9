"""The hub's MCP server on the SDK's low-level Server: tools are read from the registry per
request, for the calling token's tenant; every call goes through the same spine as REST.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from sqlalchemy.orm import Session

from hub import __version__
from hub.core import limits
from hub.core.callers import Caller
from hub.core.calls import CallRequest
from hub.core.errors import HubError
from hub.core.reads import visible_data_types
from hub.mcp import elicit, native, results
from hub.mcp.changes import ToolsetWatcher
from hub.mcp.listing import SCOPE_KEY as LISTING_KEY
from hub.mcp.listing import Probe
from hub.mcp.query import hub_query
from hub.mcp.tools import LAYER1, NATIVE, NATIVE_DOMAINS, ToolCatalog
from hub.registry import service as registry
from hub.runs.executor import execute
from hub.runs.native import disconnect_integration
from hub.runs.validation import validate_args
from hub.runtime import Runtime

log = logging.getLogger("hub.mcp")

INSTRUCTIONS = (
    "This hub lets you act on the business's accounts (SMS, email, payments, calendars...) "
    "without ever holding a credential. Start with hub_capabilities. Each tool states its "
    "permission: unrestricted runs; soft_limit needs a `reasoning`; requires_authorization "
    "is queued for a human and answers with a queue_id (poll check_authorization, or retry "
    "with the same idempotency_key). Refusals carry error.kind and say what to do next."
)

CallerOf = Callable[[Any], Awaitable[Caller]]
T = TypeVar("T")
_SCHEMAS = {t.name: t.input_schema for t in (*LAYER1, *NATIVE)}


class HubMcp:
    """One MCP server for a runtime; `caller_of(ctx)` says who is calling (per transport)."""

    def __init__(self, rt: Runtime, caller_of: CallerOf, *, poll_interval: float = 2.0) -> None:
        self.rt = rt
        self.caller_of = caller_of
        self.catalog = ToolCatalog()
        self.watcher = ToolsetWatcher(rt, self.catalog, interval=poll_interval)
        self._caps: OrderedDict[tuple[Any, ...], tuple[dict, str]] = OrderedDict()
        self._caps_lock = threading.Lock()
        self.server: Server[Any] = Server(
            "agent-hub",
            version=__version__,
            title="Agent integration hub",
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_subscriptions_listen=self.listen,
            # Our schemas declare no Mcp-Param headers; without this the SDK would run
            # tools/list before every modern tools/call just to find that out.
            get_tool_input_schema=lambda _name: None,
        )

    @property
    def base_url(self) -> str:
        """Where people reach this hub (for links in answers)."""
        return self.rt.settings.base_url

    async def _db(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) in a worker thread inside one transaction."""

        def _run() -> T:
            with self.rt.db.session() as s:
                return fn(s)

        return await anyio.to_thread.run_sync(_run)

    # ------------------------------------------------------------ handlers

    async def list_tools(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        """Layer 1, hub-native tools and the tenant's usable registry tools."""
        caller = await self.caller_of(ctx)
        fp, tools = await self._db(lambda s: self.catalog.listing(s, caller.tenant_id))
        request = getattr(ctx, "request", None)
        probe = request.scope.get(LISTING_KEY) if request is not None else None
        if isinstance(probe, Probe):  # the HTTP endpoint keeps this answer's bytes for fp
            probe.fingerprint = fp
        # Per tenant and changing with its connections: never shared, never cached stale.
        return types.ListToolsResult(tools=tools, ttl_ms=0, cache_scope="private")

    async def call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        """Run one tool; refusals come back as tool errors carrying error.kind."""
        name = params.name
        arguments = dict(params.arguments or {})
        token = elicit.current_request.set(ctx)
        try:
            caller = await self.caller_of(ctx)
            return await self.dispatch(caller, name, arguments)
        except HubError as err:
            return results.refusal(err)
        finally:
            elicit.current_request.reset(token)

    async def listen(self, ctx: Any, params: types.SubscriptionsListenRequestParams) -> Any:
        """subscriptions/listen (2026-07-28): tool-list changes of the caller's tenant only."""
        caller = await self.caller_of(ctx)
        async with self.watcher.watching(caller.tenant_id):
            return await self.watcher.listen_handler(caller.tenant_id)(ctx, params)

    # ------------------------------------------------------------ dispatch

    async def dispatch(
        self, caller: Caller, name: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        """Route a call to Layer 1, a hub-native tool, or the registry tool of that name."""
        # The bounds first, whichever tool: before any registry, permission or n8n lookup.
        limits.check_text(name, "name", max_len=limits.NAME_MAX, min_len=1)
        limits.check_call(
            arguments,
            arguments.get("reasoning"),
            arguments.get("idempotency_key"),
            field="arguments",
        )
        if name in _SCHEMAS:
            validate_args(name, _SCHEMAS[name], arguments)
        if name == "hub_capabilities":
            data, text = await self._db(lambda s: self.capabilities_answer(s, caller, arguments))
            return results.prerendered(data, text)
        if name == "hub_query":
            data = await self._db(lambda s: hub_query(s, self.rt.vault, caller, arguments))
            n = len(data["data"]) if isinstance(data["data"], list) else 1
            return results.ok(data, f"{n} {arguments['type']} record(s).")
        if name == "hub_action":
            return await self.action(caller, arguments)
        if name in _SCHEMAS:
            return await self.native(caller, name, arguments)
        return await self.registry_call(caller, name, arguments)

    async def action(self, caller: Caller, a: dict[str, Any]) -> types.CallToolResult:
        """hub_action: a native action by domain, or a registry tool whose domain matches."""
        domain, action, data = a["domain"], a["action"], dict(a["data"])
        if domain in NATIVE_DOMAINS:
            if action not in NATIVE_DOMAINS[domain]:
                raise HubError(
                    "invalid_request",
                    f"Domain {domain} has the actions {', '.join(NATIVE_DOMAINS[domain])}.",
                    details={"field": "action"},
                )
            for k in ("reasoning", "idempotency_key"):
                if a.get(k) is not None and k in _SCHEMAS[action].get("properties", {}):
                    data.setdefault(k, a[k])
            validate_args(action, _SCHEMAS[action], data)
            return await self.native(caller, action, data)

        actual = await self._db(lambda s: registry.get_tool(s, action).domain)
        if actual != domain:
            raise HubError(
                "invalid_request",
                f"{action} is in the domain '{actual}', not the one given. "
                "See hub_capabilities for each action's domain.",
                details={"field": "domain"},
            )
        for k in ("reasoning", "idempotency_key"):
            if a.get(k) is not None:
                data[k] = a[k]
        return await self.registry_call(caller, action, data)

    async def registry_call(
        self, caller: Caller, name: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        """A Layer-2 call: strip the hub's own arguments, then the spine (validate, gate, run)."""
        args = dict(arguments)
        reasoning = _text_arg(args.pop("reasoning", None), "reasoning")
        key = _text_arg(args.pop("idempotency_key", None), "idempotency_key")
        limits.check_call(args, reasoning, key)
        outcome = await execute(
            self.rt.calls,
            caller,
            CallRequest(tool=name, args=args, reasoning=reasoning, idempotency_key=key),
        )
        return results.outcome(name, outcome)

    async def native(self, caller: Caller, name: str, a: dict[str, Any]) -> types.CallToolResult:
        """The hub-native tools."""
        if name == "check_authorization":
            data = await self._db(lambda s: native.check_authorization(s, caller, a["queue_id"]))
            return results.ok(data, f"{data['queue_id']}: {data['status']}. {data['message']}")
        if name == "initiate_integration":
            data = await self._db(
                lambda s: native.initiate_integration(s, caller, a["integration"], self.base_url)
            )
            if data.get("connect_url"):
                await self._elicit_connect(data)
            return results.ok(data, data["next_step"])
        if name == "suggest_integration":
            data = await self._db(
                lambda s: native.suggest_integration(s, caller, a["need"], a.get("integration"))
            )
            return results.ok(data, data["next_step"])
        if name == "disconnect_integration":
            o = await disconnect_integration(
                self.rt.calls,
                caller,
                {"integration": a["integration"]},
                _text_arg(a.get("reasoning"), "reasoning"),
                _text_arg(a.get("idempotency_key"), "idempotency_key"),
            )
            return results.outcome(name, o)
        raise HubError("not_found", f"No tool '{name}'.")  # pragma: no cover

    async def _elicit_connect(self, data: dict[str, Any]) -> None:
        """Ask a client that can open links to open the connect link for its user."""
        url = str(data["connect_url"])
        action = await elicit.ask_to_open(
            url,
            f"Connect {data['name']}: sign in to the hub's console and approve access at "
            f"{data['name']}. The assistant never sees the credentials.",
            elicitation_id=secrets.token_hex(8),
        )
        if action is None:
            return
        data["elicitation"] = action
        if action == "accept":
            data["next_step"] = (
                f"The user was asked to open the connect page for {data['name']} and agreed. "
                "Once they approve access, its tools appear in your tool list; you can check "
                "with hub_capabilities. Never ask for credentials in this chat."
            )
        else:
            data["next_step"] = (
                f"The user did not open the connect page ({action}). " + data["next_step"]
            )

    def capabilities_answer(
        self, s: Session, caller: Caller, a: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """hub_capabilities' data and text, cached by what they depend on (the registry
        revision, the tenant's connections, the policy) like the tool listing."""
        fp = self.catalog.fingerprint(s, caller.tenant_id)
        key = (fp, a.get("domain"))
        with self._caps_lock:
            hit = self._caps.get(key)
            if hit is not None:
                self._caps.move_to_end(key)
                return hit
        data = self.capabilities(s, set(fp[1]), a.get("domain"))
        answer = (data, results.text(data, "Capabilities of this hub for this business."))
        with self._caps_lock:
            self._caps[key] = answer
            while len(self._caps) > 128:
                self._caps.popitem(last=False)
        return answer

    def capabilities(self, s: Session, connected: set[str], domain: str | None) -> dict[str, Any]:
        """registry.capabilities for a tenant's connections, plus the hub-native domains."""
        natives = [
            {
                "domain": d,
                "description": "Hub actions on this business's connections."
                if d == "connections"
                else "Calls queued for a human's approval.",
                "actions": [_native_action(n) for n in names],
            }
            for d, names in NATIVE_DOMAINS.items()
            if domain in (None, d)
        ]
        if domain in NATIVE_DOMAINS:
            doc = registry.capabilities(s, connected)
            doc["data"]["domains"] = natives
            doc["data"]["integrations"] = []
        else:
            doc = registry.capabilities(s, connected, domain)
            doc["data"]["domains"].extend(natives)
        # MCP serves agents: only the record types an agent may read (hub.core.reads).
        doc["data"]["data_types"] = visible_data_types("agent", doc["data"]["data_types"])
        return doc


def _native_action(name: str) -> dict[str, Any]:
    tool = next(t for t in NATIVE if t.name == name)
    level = "soft_limit" if name == "disconnect_integration" else "unrestricted"
    return {
        "name": name,
        "title": tool.title,
        "permission": level,
        "description": tool.description,
        "parameters": tool.input_schema,
        "providers": [],
        "available": True,
    }


def _text_arg(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HubError(
            "invalid_request", f"{name} must be a non-empty string.", details={"field": name}
        )
    return value
