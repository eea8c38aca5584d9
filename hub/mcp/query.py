"""hub_query: one tenant-scoped read surface over the hub's records.

Every query filters by the caller's tenant first; credentials appear only as masked hints;
run arguments are stored redacted and results scrubbed before they reach this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from hub.approvals.service import present
from hub.audit import service as audit
from hub.audit.service import AuditEvent
from hub.connections import service as connections
from hub.connections.service import Connection
from hub.core.callers import Caller
from hub.core.cursor import decode_cursor, encode_cursor
from hub.core.errors import HubError, not_found
from hub.core.reads import check_read
from hub.permissions import queue
from hub.registry import service as registry
from hub.registry.capabilities import DATA_TYPES
from hub.runs import service as runs
from hub.runs.service import Run
from hub.webhooks import service as webhooks
from vault import Vault

SPEC = {d["type"]: d for d in DATA_TYPES}
MAX_LIMIT = 100


def hub_query(
    s: Session, vault: Vault | None, caller: Caller, args: dict[str, Any]
) -> dict[str, Any]:
    """Answer one hub_query call (arguments already schema-validated)."""
    kind = args["type"]
    check_read(caller, kind)
    spec = SPEC[kind]
    filters = dict(args.get("filters") or {})
    unknown = sorted(set(filters) - set(spec["filters"]))
    if unknown:
        raise HubError(
            "invalid_request",
            f"{len(unknown)} filter(s) that {kind} does not have. "
            f"Use: {', '.join(spec['filters'])}.",
            details={"field": "filters", "allowed": spec["filters"]},
        )
    include = list(args.get("include") or [])
    bad = sorted(set(include) - set(spec["includes"]))
    if bad:
        raise HubError(
            "invalid_request",
            f"{len(bad)} include(s) that {kind} does not have. Use: {', '.join(spec['includes'])}.",
            details={"field": "include", "allowed": spec["includes"]},
        )
    search = (args.get("search") or "").strip() or None
    if search and "search" in spec["filters"]:
        filters.setdefault("search", search)
    limit = min(int(args.get("limit") or 20), MAX_LIMIT)
    offset = decode_cursor(args.get("cursor"))
    reader = _READERS[kind]
    if args.get("id"):
        item = reader.one(s, vault, caller, str(args["id"]), set(include))
        return {"type": kind, "data": item}
    items, more = reader.many(s, vault, caller, filters, search, set(include), limit, offset)
    return {
        "type": kind,
        "data": items,
        "count": len(items),
        "next_cursor": encode_cursor(offset + limit) if more else None,
    }


def _when(filters: dict[str, Any], name: str) -> datetime | None:
    value = filters.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise HubError(
            "invalid_request",
            f"filters.{name} must be an ISO 8601 date-time, e.g. 2025-01-15T09:00:00Z.",
            details={"field": f"filters.{name}"},
        ) from None


def _flag(filters: dict[str, Any], name: str) -> bool:
    """A boolean filter: true/false (or their strings); anything else is refused."""
    value = filters[name]
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise HubError(
        "invalid_request",
        f"filters.{name} must be true or false.",
        details={"field": f"filters.{name}"},
    )


def _page(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    return rows[:limit], len(rows) > limit


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


# ---------------------------------------------------------------- integrations


class _Integrations:
    @staticmethod
    def _out(
        row: Any, linked: set[str], tools: dict[str, list[str]], inc: set[str]
    ) -> dict[str, Any]:
        d = row.definition or {}
        out: dict[str, Any] = {
            "slug": row.slug,
            "name": row.name,
            "category": row.category,
            "status": row.status,
            "auth_type": row.auth_type,
            "description": row.description,
            "connected": row.slug in linked,
        }
        if "tools" in inc:
            out["tools"] = tools.get(row.slug, [])
        if "capabilities" in inc:
            out["capabilities"] = d.get("capabilities", [])
        if "credential_fields" in inc:
            # Field names, labels and help only: what an admin will be asked for.
            out["credential_fields"] = [
                {k: f.get(k) for k in ("name", "label", "type", "secret", "required", "help")}
                for f in d.get("credential_fields", [])
            ]
        if "setup_instructions" in inc:
            out["setup_instructions"] = d.get("setup_instructions", "")
        return out

    @staticmethod
    def _tools(s: Session) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for t in registry.list_tools(s):
            for p in registry.providers_for(s, t.name):
                out.setdefault(p.integration_slug, []).append(t.name)
        return out

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]:
        row = registry.get_integration(s, ident)
        linked = connections.connected_integrations(s, caller.tenant_id)
        return self._out(row, linked, self._tools(s) if "tools" in inc else {}, inc)

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        rows = registry.list_integrations(
            s, category=f.get("category"), status=f.get("status"), search=f.get("search")
        )
        linked = connections.connected_integrations(s, caller.tenant_id)
        if f.get("auth_type"):
            rows = [r for r in rows if r.auth_type == f["auth_type"]]
        if f.get("connected") is not None:
            rows = [r for r in rows if (r.slug in linked) == _flag(f, "connected")]
        tools = self._tools(s) if "tools" in inc else {}
        page, more = _page(rows[offset:], limit)
        return [self._out(r, linked, tools, inc) for r in page], more


# ---------------------------------------------------------------- connections


class _Connections:
    @staticmethod
    def _out(s: Session, vault: Vault | None, c: Connection, inc: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": c.id,
            "integration": c.integration_slug,
            "status": c.status,
            "account_label": c.account_label,
            "connected_via": c.connected_via,
            "times_used_by_agent": c.times_used_by_agent,
            "last_used_at": _iso(c.last_used_at),
            "created_at": _iso(c.created_at),
        }
        if "integration" in inc:
            integ = registry.get_integration(s, c.integration_slug)
            out["integration_detail"] = {
                "name": integ.name,
                "category": integ.category,
                "auth_type": integ.auth_type,
            }
        if "health" in inc:
            out["health"] = {
                "last_error": c.last_error,
                "last_error_kind": c.last_error_kind,
                "last_error_at": _iso(c.last_error_at),
                "status_changed_at": _iso(c.status_changed_at),
            }
        if "credential_hints" in inc:
            hints = {k: {"secret": True, "hint": v} for k, v in _hints(s, vault, c).items()}
            for k, v in (c.config or {}).items():
                if isinstance(v, str):
                    hints.setdefault(k, {"secret": False, "hint": v})
            out["credential_hints"] = hints
        return out

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]:
        c = connections.get_connection(s, caller.tenant_id, ident)
        return self._out(s, vault, c, inc)

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        rows = connections.list_connections(s, caller.tenant_id)
        if f.get("integration"):
            rows = [c for c in rows if c.integration_slug == f["integration"]]
        if f.get("status"):
            rows = [c for c in rows if c.status == f["status"]]
        if search:
            rows = [
                c
                for c in rows
                if search.lower() in f"{c.integration_slug} {c.account_label}".lower()
            ]
        page, more = _page(rows[offset:], limit)
        return [self._out(s, vault, c, inc) for c in page], more


def _hints(s: Session, vault: Vault | None, c: Connection) -> dict[str, str]:
    return connections.credential_hints(s, vault, c) if vault is not None else {}


# ---------------------------------------------------------------- tools


class _Tools:
    @staticmethod
    def _out(action: dict[str, Any], inc: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": action["name"],
            "domain": action["domain"],
            "title": action["title"],
            "permission": action["permission"],
            "description": action["description"],
            "available": action["available"],
        }
        if "providers" in inc:
            out["providers"] = action["providers"]
        if "input_schema" in inc:
            out["input_schema"] = action["parameters"]
        if "output_schema" in inc:
            out["output_schema"] = action["returns"]
        return out

    @staticmethod
    def _actions(s: Session, caller: Caller) -> list[dict[str, Any]]:
        linked = connections.connected_integrations(s, caller.tenant_id)
        doc = registry.capabilities(s, linked)
        return [{**a, "domain": d["domain"]} for d in doc["data"]["domains"] for a in d["actions"]]

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]:
        registry.get_tool(s, ident)  # not_found with suggestions
        for a in self._actions(s, caller):
            if a["name"] == ident:
                return self._out(a, inc)
        raise not_found("active tool")

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        rows = self._actions(s, caller)
        if f.get("domain"):
            rows = [a for a in rows if a["domain"] == f["domain"]]
        if f.get("permission"):
            rows = [a for a in rows if a["permission"] == f["permission"]]
        if f.get("integration"):
            rows = [
                a for a in rows if any(p["integration"] == f["integration"] for p in a["providers"])
            ]
        if f.get("available") is not None:
            rows = [a for a in rows if a["available"] == _flag(f, "available")]
        if search:
            low = search.lower()
            rows = [
                a for a in rows if low in f"{a['name']} {a['title']} {a['description']}".lower()
            ]
        page, more = _page(rows[offset:], limit)
        return [self._out(a, inc) for a in page], more


# ---------------------------------------------------------------- runs


class _Runs:
    @staticmethod
    def _out(s: Session, r: Run, inc: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": r.id,
            "tool": r.tool,
            "provider": r.provider,
            "status": r.status,
            "caller": r.caller,
            "error_kind": r.error_kind,
            "idempotency_key": r.idempotency_key,
            "created_at": _iso(r.created_at),
            "finished_at": _iso(r.finished_at),
            "duration_ms": r.duration_ms,
        }
        if "args" in inc:
            out["args"] = r.args
        if "result" in inc:
            out["result"] = r.result
        if "error" in inc:
            out["error"] = {
                "kind": r.error_kind,
                "message": r.error_message,
                "vendor_status": r.vendor_status,
                "retry_after_s": r.retry_after_s,
            }
        if "events" in inc:
            out["events"] = [
                {"at": _iso(e.created_at), "action": e.action, "success": e.success}
                for e in reversed(audit.query(s, r.tenant_id, run_id=r.id, limit=50))
            ]
        return out

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]:
        return self._out(s, runs.get_run(s, caller.tenant_id, ident), inc)

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        rows = runs.list_runs(
            s,
            caller.tenant_id,
            status=f.get("status"),
            tool=f.get("tool"),
            integration=f.get("integration"),
            caller=f"token:{f['agent']}" if f.get("agent") else None,
            since=_when(f, "since"),
            until=_when(f, "until"),
            search=search,
            limit=limit + 1,
            offset=offset,
        )
        page, more = _page(rows, limit)
        return [self._out(s, r, inc) for r in page], more


# ---------------------------------------------------------------- authorizations


class _Authorizations:
    @staticmethod
    def _out(s: Session, a: Any, inc: set[str]) -> dict[str, Any]:
        full = present(s, a)
        keep = [
            "id",
            "queue_id",
            "status",
            "tool",
            "provider",
            "reason",
            "rules",
            "created_at",
            "expires_at",
            "message",
        ]
        out: dict[str, Any] = {k: full[k] for k in keep}
        if "args" in inc:
            out["args"] = full["args"]
        if "reasoning" in inc:
            out["reasoning"] = full["reasoning"]
        if "decision" in inc:
            out["decision"] = {
                k: full[k] for k in ("decided_at", "decided_by", "notes", "upgrade_permission")
            }
        if "run" in inc:
            out["run_id"] = full["run_id"]
            out["outcome"] = full["outcome"]
        return out

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]:
        return self._out(s, queue.get_authorization(s, caller, ident), inc)

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        status = f.get("status") or "all"
        rows, _ = queue.list_authorizations(
            s, caller, status=status, tool=f.get("tool") or search, limit=10**6
        )
        since, until = _when(f, "since"), _when(f, "until")
        rows = [
            a
            for a in rows
            if (not since or a.created_at >= since)
            and (not until or a.created_at < until)
            and (not f.get("agent") or a.token_id == f["agent"])
        ]
        page, more = _page(rows[offset:], limit)
        return [self._out(s, a, inc) for a in page], more


# ---------------------------------------------------------------- audit


class _Audit:
    @staticmethod
    def _out(e: AuditEvent, inc: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": e.id,
            "at": _iso(e.created_at),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "integration": e.integration,
            "run_id": e.run_id,
            "success": e.success,
            "error_message": e.error_message,
        }
        if "details" in inc:
            out["details"] = e.details
        return out

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]:
        return self._out(audit.get_event(s, caller.tenant_id, ident), inc)

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        rows = audit.query(
            s,
            caller.tenant_id,
            action=str(f["action"]) if f.get("action") else None,
            actor=f.get("actor"),
            integration=f.get("integration"),
            target=f.get("target"),
            success=_flag(f, "success") if f.get("success") is not None else None,
            since=_when(f, "since"),
            until=_when(f, "until"),
            search=search,
            limit=limit + 1,
            offset=offset,
        )
        page, more = _page(rows, limit)
        return [self._out(e, inc) for e in page], more


# ---------------------------------------------------------------- events


class _Events:
    @staticmethod
    def _out(e: webhooks.WebhookEvent, inc: set[str]) -> dict[str, Any]:
        view = webhooks.event_view(e, with_payload="payload" in inc)
        if "result" not in inc:
            view.pop("result", None)
        for k in ("received_at", "next_attempt_at", "delivered_at"):
            view[k] = _iso(view[k])
        return view

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]:
        return self._out(webhooks.get_event(s, caller.tenant_id, ident), inc)

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        rows = webhooks.list_events(
            s,
            caller.tenant_id,
            provider=str(f["provider"]) if f.get("provider") else None,
            event_type=str(f["type"]) if f.get("type") else None,
            status=str(f["status"]) if f.get("status") else None,
            since=_when(f, "since"),
            until=_when(f, "until"),
            limit=limit + 1,
            offset=offset,
        )
        page, more = _page(rows, limit)
        return [self._out(e, inc) for e in page], more


class _Reader(Protocol):
    """One hub_query type: one record by id, or a filtered page."""

    def one(
        self, s: Session, vault: Vault | None, caller: Caller, ident: str, inc: set[str]
    ) -> dict[str, Any]: ...

    def many(
        self,
        s: Session,
        vault: Vault | None,
        caller: Caller,
        f: dict[str, Any],
        search: str | None,
        inc: set[str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], bool]: ...


_READERS: dict[str, _Reader] = {
    "integrations": _Integrations(),
    "connections": _Connections(),
    "tools": _Tools(),
    "runs": _Runs(),
    "authorizations": _Authorizations(),
    "events": _Events(),
    "audit": _Audit(),
}
