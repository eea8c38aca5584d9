"""The hub's error type: every refusal carries a machine-readable kind and advice."""

from __future__ import annotations

from typing import Any

# kind -> HTTP status. Kinds are part of the public contract (REST, MCP, workflow responses).
ERROR_STATUS: dict[str, int] = {
    "invalid_request": 422,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "in_progress": 409,
    "idempotency_mismatch": 422,
    "reasoning_required": 422,
    "authorization_required": 202,
    "denied": 403,
    "rate_limited": 429,
    "auth": 502,
    "vendor_unavailable": 502,
    "n8n_unavailable": 503,
    "database_unavailable": 503,
    "hub_unavailable": 503,  # the load balancer found no replica (deploy/haproxy-errors)
    "not_connected": 409,
    "not_available": 409,
    "outcome_unknown": 504,
    "grant_refused": 502,
    "step_unrecorded": 502,
    "outbound_refused": 422,
    "tool_held": 409,
    "vault": 500,
    "internal": 500,
}


class HubError(Exception):
    """A refusal or failure the caller can act on."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status or ERROR_STATUS.get(kind, 400)
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON body every edge uses: {"error": {"kind", "message", ...}}."""
        body: dict[str, Any] = {"kind": self.kind, "message": self.message}
        body.update(self.details)
        return {"error": body}


def not_found(what: str) -> HubError:
    """A uniform 404: the same answer whether the row is missing or another tenant's."""
    # The id is not echoed: an error must never repeat a value that could be a pasted secret.
    return HubError("not_found", f"No {what} with that id exists in this tenant.")
