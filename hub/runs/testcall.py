"""Save & Test (seed 000): run an integration's declared cheap test call through n8n against
the vendor, and let the answer set the connection's health.

The test call is registry data (`test_call: {tool, args}` on the integration); `$now` and
`$now+1h` in its arguments become times. It runs through the spine as the hub itself (a system
caller), pinned to the connection under test whatever its health, so a connection in error
can prove it works again; passing resumes the calls paused on it (hub.runs.paused)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.audit.service import record
from hub.connections.health import set_status
from hub.connections.service import get_connection
from hub.core.callers import Caller
from hub.core.calls import CallRequest
from hub.core.errors import HubError
from hub.db.base import utcnow
from hub.registry.service import get_integration
from hub.runs.callpath import CallPath
from hub.runs.executor import execute

SYSTEM_ACTOR = "hub:save-and-test"
# Error kinds that are the vendor's verdict on the credentials or the request.
VENDOR_VERDICTS = ("auth", "invalid_request", "not_found", "conflict")
# Error kinds meaning the call never reached the vendor's answer (n8n or the edge failed).
NOT_RUN = ("n8n_unavailable", "grant_refused", "not_connected", "outcome_unknown")


def _expand(value: Any) -> Any:
    now = utcnow().replace(microsecond=0)
    times = {"$now": now, "$now+1h": now + timedelta(hours=1)}
    if isinstance(value, str) and value in times:
        return times[value].isoformat()
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def _missing_settings(definition: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The required plain settings (no default) a connection has not been given yet."""
    return [
        f"{f.get('label', f['name'])} ({f['name']})"
        for f in definition.get("credential_fields", [])
        if f.get("required", True)
        and not f.get("secret")
        and not f.get("default")
        and not config.get(f["name"])
    ]


async def test_connection(path: CallPath, tenant_id: str, connection_id: str) -> dict[str, Any]:
    """Run the test call; answers {status, tested, message} and sets the connection's health."""
    with path.db.session() as s:
        conn = get_connection(s, tenant_id, connection_id)
        integ = get_integration(s, conn.integration_slug)
        spec = integ.definition.get("test_call")
        slug, name = integ.slug, integ.name
    if not spec:
        return {
            "status": conn.status,
            "tested": False,
            "message": f"{name} declares no test call; its credentials were stored untested.",
        }
    missing = _missing_settings(integ.definition, conn.config)
    if missing:
        # An OAuth connect stores tokens before the admin names the account or location the
        # test reads (Google Business Profile): asking the vendor now could only fail.
        return {
            "status": conn.status,
            "tested": False,
            "message": f"The test call needs the connection's {' and '.join(missing)}: set "
            f"them (PATCH /api/connections/{connection_id} with config), then test again. "
            "The status is unchanged.",
        }
    caller = Caller(tenant_id=tenant_id, kind="system", name=SYSTEM_ACTOR)
    req = CallRequest(tool=spec["tool"], args=_expand(spec.get("args", {})), pinned_provider=slug)
    try:
        outcome = await execute(path, caller, req)
    except HubError as exc:
        return {
            "status": conn.status,
            "tested": False,
            "message": f"The test call could not run, so the status is unchanged: {exc.message}",
        }
    err = outcome.error or {}
    # n8n down or the grant refused: the vendor was never asked, so the status stays as it
    # was (the run and the audit row still say why).
    unrun = outcome.status != "succeeded" and err.get("kind") in NOT_RUN
    with path.db.session() as s:
        conn = get_connection(s, tenant_id, connection_id)
        conn.last_tested_at = utcnow()
        if outcome.status == "succeeded":
            set_status(s, conn, "connected", reason="passed the test call", kind=None)
            said = (outcome.data or {}).get("message")
            # verify_credentials workflows say what the vendor confirmed (scopes, mode).
            message = f"Connected: {name} answered the test call." + (
                f" {said}" if isinstance(said, str) and said else ""
            )
        elif unrun:
            why = err.get("message", "no reason given")
            message = f"The test call could not run, so the status is unchanged: {why}"
        elif err.get("kind") not in VENDOR_VERDICTS:
            # Rate limited or unavailable: the vendor said nothing about the credentials.
            why = err.get("message", "no reason given")
            message = f"{name} did not answer the test call ({err.get('kind')}): {why}"
        else:
            message = f"{name} refused the test call: {err.get('message', 'no reason given')}"
            if err.get("kind") in ("invalid_request", "not_found", "conflict"):
                set_status(s, conn, "error", reason=message, kind=str(err.get("kind")))
        status = conn.status
        record(
            s,
            tenant_id,
            SYSTEM_ACTOR,
            "connection.tested",
            target=connection_id,
            integration=slug,
            run_id=outcome.run_id,
            success=outcome.status == "succeeded",
            error_message=None if outcome.status == "succeeded" else str(err.get("kind")),
        )
    if status == "connected":
        from hub.runs.paused import resume_paused

        await resume_paused(path, tenant_id, connection_id)
    elif status == "error":
        from hub.runs.alerts import send_pending_alerts

        await send_pending_alerts(path)  # the owner hears of a new incident at once
    # `tested`: the vendor gave a verdict on the credentials (passed, or refused them).
    verdict = outcome.status == "succeeded" or err.get("kind") in VENDOR_VERDICTS
    return {"status": status, "tested": verdict, "message": message, "run_id": outcome.run_id}
