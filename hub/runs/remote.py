"""The remote-MCP hop of the spine: a call to an admin-approved tool of a remote server.

Same steps as a registry tool (hub.runs.spine): the arguments are validated against the
pinned schema by the hub, the permission gate and the authorization queue apply, an
idempotency key has one effect, the run is durable before anything is sent, and the call is
audited and counted. Differences that matter for safety:

- the agent's hub token is never forwarded (SECURITY 24): the only credential sent is the
  server's own, read from the vault for this call;
- that credential is scrubbed from whatever comes back (results, errors);
- results are capped in size, with a note saying so;
- a result is data only: nothing in it is read as an instruction, so it cannot approve an
  authorization or change a permission (SECURITY 28);
- a call that times out after it was sent is outcome_unknown and is never resent.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from hub.audit.service import append
from hub.core import afterwards
from hub.core.callers import Caller
from hub.core.calls import CallOutcome, CallRequest, args_fingerprint
from hub.core.errors import HubError
from hub.core.hop import NotSent, OutcomeUnknown
from hub.core.logs import run_id_var
from hub.core.outbound import parse_allow
from hub.db.base import new_id, table_of, utcnow
from hub.federation import authorize, discovery, oauth
from hub.federation import service as federation
from hub.permissions.gate import ToolRef, gate
from hub.runs.callpath import CallPath
from hub.runs.facts import FACTS, held_by_key
from hub.runs.models import Run
from hub.runs.scrub import Scrubber
from hub.runs.spine import resolve_held
from hub.runs.validation import validate_args

log = logging.getLogger("hub.runs")

# The largest result kept and returned (serialized JSON); past it the result is cut, noted.
MAX_RESULT_BYTES = 256 * 1024
# Failures after which the remote server provably did nothing: a retry may run again.
REMOTE_NOTHING_SENT = ("vendor_unavailable", "not_connected")

_runs = table_of(Run)
_START = _runs.insert()
# Built once (building it cost as much as running it).
_FINISH = (
    _runs.update()
    .where(_runs.c.id == bindparam("run_id"))
    .values(
        {
            c: bindparam(c)
            for c in ("status", "result", "error_kind", "error_message", "finished_at")
        }
        | {"duration_ms": bindparam("duration_ms")}
    )
)


@dataclass
class RemoteDispatch:
    """A prepared remote call."""

    run_id: str
    tenant_id: str
    caller: Caller
    target: federation.CallTarget
    endpoint: discovery.Endpoint
    secrets: list[str]
    args: dict[str, Any]
    started: float
    # The server said its tool list changed during the call: refresh it soon.
    list_changed: bool = False
    # Its OAuth access token expires within seconds: refresh it (once for all) before the hop.
    stale_token: bool = False


def prepare_remote(
    s: Session, path: CallPath, caller: Caller, req: CallRequest
) -> RemoteDispatch | CallOutcome:
    """Resolve, validate, gate, dedupe; write the run; read the server's credential."""
    target = federation.resolve(s, caller.tenant_id, req.tool)
    validate_args(req.tool, target.input_schema, req.args)
    held = held_by_key(s, caller.tenant_id, req.idempotency_key)
    ref = ToolRef(
        name=req.tool,
        permission=target.permission,
        secret_fields=[],
        provider=lambda: f"mcp:{target.server_name}",
    )
    gated = gate(s, caller, ref, req, FACTS, held_run=held.id if held is not None else None)
    if gated is not None:
        return gated
    fingerprint = args_fingerprint(req.tool, req.args)
    retry_ok = (
        held is not None and held.status == "failed" and held.error_kind in REMOTE_NOTHING_SENT
    )
    resolved = resolve_held(s, held, fingerprint, retry_ok)
    if isinstance(resolved, CallOutcome):
        return resolved
    retry_of = resolved
    now = utcnow()
    routed = {
        "provider": f"mcp:{target.server_name}"[:64],
        "connection_id": target.server_id,
        "workflow_version": None,
        "status": "sent",
        "sent_at": now,
        "error_kind": None,
        "error_message": None,
    }
    db = s.connection()
    if retry_of is None:
        run_id = new_id("run")
        db.execute(
            _START,
            {
                "id": run_id,
                "tenant_id": caller.tenant_id,
                "caller": caller.actor,
                "tool": req.tool,
                "args": req.args,
                "args_hash": fingerprint,
                "idempotency_key": req.idempotency_key,
                "reasoning": req.reasoning,
                "created_at": now,
                **routed,
            },
        )
    else:
        run_id = retry_of
        db.execute(_runs.update().where(_runs.c.id == run_id).values(**routed))
    append(
        s,
        caller.tenant_id,
        caller.actor,
        "tool.called",
        target=req.tool,
        run_id=run_id,
        integration=f"mcp:{target.server_name}",
        details={"reasoning": req.reasoning} if req.reasoning else {},
    )
    allow = parse_allow(path.settings.outbound_allow)
    headers, secrets, stale = federation.call_credential(s, path.vault, caller.tenant_id, target)
    endpoint = discovery.Endpoint(
        url=target.url,
        transport=target.transport,
        allow=allow,
        headers=headers,
        timeout_s=path.settings.remote_call_timeout_s,
        protocol=target.protocol,
    )
    return RemoteDispatch(
        run_id=run_id,
        tenant_id=caller.tenant_id,
        caller=caller,
        target=target,
        endpoint=endpoint,
        secrets=secrets,
        args=req.args,
        started=time.perf_counter(),
        stale_token=stale,
    )


def _block(b: Any) -> dict[str, Any]:
    out: dict[str, Any] = b.model_dump(by_alias=True, exclude_none=True, mode="json")
    return out


def result_data(result: types.CallToolResult) -> dict[str, Any]:
    """A remote result as the run's data: its structured content, else its content blocks."""
    if isinstance(result.structured_content, dict):
        return dict(result.structured_content)
    return {"content": [_block(b) for b in result.content]}


def capped(data: dict[str, Any], limit: int = MAX_RESULT_BYTES) -> dict[str, Any]:
    """The data, or a cut version with a note when its JSON is over the limit."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    size = len(text.encode())
    if size <= limit:
        return data
    return {
        "truncated": True,
        "original_bytes": size,
        "note": f"The remote tool's result was {size} bytes, over the hub's limit of {limit} "
        "bytes, so it was cut. Ask the tool for less (a narrower query, a page, a summary).",
        "partial": text.encode()[: limit // 2].decode("utf-8", "ignore"),
    }


def _text_of(result: types.CallToolResult) -> str:
    parts = [getattr(b, "text", "") for b in result.content]
    return " ".join(p for p in parts if p)[:2000] or "the remote tool reported an error"


@dataclass(frozen=True)
class Settled:
    """What a remote call came to, as the run records it (scrubbed, capped)."""

    status: str
    data: dict[str, Any] | None
    kind: str | None
    message: str | None
    duration_ms: float


def settle(
    d: RemoteDispatch, result: types.CallToolResult | None, failure: tuple[str, str] | None
) -> Settled:
    """The run's end from the remote answer or failure; the credential scrubbed out."""
    scrub = Scrubber(d.secrets)
    status, data, kind, message = "failed", None, None, None
    if failure is not None:
        kind, message = failure
        status = "outcome_unknown" if kind == "outcome_unknown" else "failed"
        message = scrub.scrub(message)
    elif result is not None and result.is_error:
        kind, message = "remote_tool_error", scrub.scrub(_text_of(result))
    elif result is not None:
        status = "succeeded"
        data = capped(scrub.scrub(result_data(result)))
    duration_ms = round((time.perf_counter() - d.started) * 1000, 2)
    return Settled(status, data, kind, message, duration_ms)


def outcome_of(d: RemoteDispatch, end: Settled) -> CallOutcome:
    """The agent's answer for a settled run."""
    if end.status == "succeeded":
        return CallOutcome("succeeded", d.run_id, data=end.data or {})
    error = {"kind": end.kind or end.status, "message": end.message or ""}
    return CallOutcome(end.status, d.run_id, error=error)


def finish_remote(s: Session, d: RemoteDispatch, end: Settled) -> None:
    """Record the run's end, count the use, audit."""
    s.connection().execute(
        _FINISH,
        {
            "run_id": d.run_id,
            "status": end.status,
            "result": end.data,
            "error_kind": end.kind,
            "error_message": end.message,
            "finished_at": utcnow(),
            "duration_ms": end.duration_ms,
        },
    )
    federation.note_call(s, d.target)
    if d.list_changed:
        federation.mark_for_refresh(s, d.target.server_id)
    details: dict[str, Any] = {"ms": end.duration_ms}
    if end.kind:
        details["error_kind"] = end.kind
    append(
        s,
        d.tenant_id,
        d.caller.actor,
        f"tool.{end.status}",
        target=d.target.exposed,
        run_id=d.run_id,
        integration=f"mcp:{d.target.server_name}",
        success=end.status == "succeeded",
        error_message=end.message,
        details=details,
    )


async def _record(path: CallPath, d: RemoteDispatch, end: Settled) -> None:
    token = run_id_var.set(d.run_id)  # a failure after the answer is logged under its run
    try:
        await path.db.writer.run(lambda s: finish_remote(s, d, end))
    finally:
        run_id_var.reset(token)


async def _fresh_token(path: CallPath, d: RemoteDispatch) -> tuple[discovery.Endpoint, list[str]]:
    """The endpoint with a refreshed OAuth access token, and the secrets to scrub."""
    grant = await authorize.current(
        path.db, path.vault, path.settings, d.tenant_id, d.target.server_id
    )
    headers = oauth.headers_of(grant)
    return dataclasses.replace(d.endpoint, headers=headers), oauth.secrets_of(grant)


async def execute_remote(path: CallPath, caller: Caller, req: CallRequest) -> CallOutcome:
    """Prepare (DB), call the remote tool, finish (DB, after the answer where it can)."""
    prepared = await path.db.writer.run(lambda s: prepare_remote(s, path, caller, req))
    if isinstance(prepared, CallOutcome):
        return prepared
    d = prepared
    token = run_id_var.set(d.run_id)
    try:
        result: types.CallToolResult | None = None
        failure: tuple[str, str] | None = None
        try:
            if d.stale_token:
                d.endpoint, d.secrets = await _fresh_token(path, d)
            ep, transport = d.endpoint, d.endpoint.transport
            changed = lambda: setattr(d, "list_changed", True)  # noqa: E731
            if path.sessions.fits(ep, transport):
                result = await path.sessions.call(
                    d.target.server_id,
                    ep,
                    transport,
                    d.target.remote_name,
                    d.args,
                    on_list_changed=changed,
                    output_schema=d.target.output_schema,
                )
            else:
                result = await discovery.call(
                    ep,
                    transport,
                    d.target.remote_name,
                    d.args,
                    on_list_changed=changed,
                    output_schema=d.target.output_schema,
                )
        except NotSent as exc:
            failure = (
                "vendor_unavailable",
                f"{exc}. Nothing was sent; retry with the same idempotency key.",
            )
        except OutcomeUnknown as exc:
            failure = (
                "outcome_unknown",
                f"{exc}. The remote tool may or may not have acted; the call was not resent.",
            )
        except discovery.RemoteError as exc:
            failure = ("remote_tool_error", f"The MCP server refused the call: {exc.message}")
        except HubError as exc:  # the OAuth grant is gone or its AS is down: nothing sent
            failure = (exc.kind, f"{exc.message} Nothing was sent.")
        end = settle(d, result, failure)
        record = lambda: _record(path, d, end)  # noqa: E731
        if path.db.writer.inline_ready():
            # Written inline right after the answer where the edge allows it
            # (hub.core.afterwards): before this process serves anything else.
            await afterwards.later(record)
        else:  # through the writer's thread: a read after the answer could race it
            await record()
        outcome = outcome_of(d, end)
        log.info(
            "remote tool call",
            extra={
                "tool": req.tool,
                "provider": f"mcp:{d.target.server_name}",
                "status": outcome.status,
                "error_kind": (outcome.error or {}).get("kind"),
            },
        )
        return outcome
    finally:
        run_id_var.reset(token)
