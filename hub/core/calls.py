"""A tool call as every edge speaks it: the request, the outcome, and what failures mean.

These types sit below every domain because both sides of the call path use them: the spine
(hub.runs) builds outcomes, the permission gate (hub.permissions) answers some calls with one
before anything runs, and REST, MCP and the console render them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

# Failure kinds after which nothing reached the vendor: a retry with the same key may run again.
# `paused` is a paused run taken for resuming (hub.runs.pausing.claim).
NOTHING_SENT = ("n8n_unavailable", "rate_limited", "paused")

# Error kinds a workflow may answer with (the workflow contract); anything else is an outage.
# step_unrecorded: a multi-step workflow stopped because the hub did not record a step the
# vendor had done (nothing after it was sent; the run is not retried blindly).
WORKFLOW_ERROR_KINDS = (
    "auth",
    "rate_limited",
    "vendor_unavailable",
    "invalid_request",
    "not_found",
    "conflict",
    "step_unrecorded",
)


@dataclass
class CallRequest:
    """A tool call as an agent makes it."""

    tool: str
    args: dict[str, Any]
    reasoning: str | None = None
    idempotency_key: str | None = None
    # Set only when an approved call from the authorization queue runs.
    authorization_id: str | None = None
    # Set only by the hub itself (Save & Test, resuming paused runs): run through this
    # integration's connection whatever its health. Agents cannot set it.
    pinned_provider: str | None = None


@dataclass
class CallOutcome:
    """What the caller gets back."""

    status: str
    run_id: str | None = None
    data: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: {status, run_id, data | error, replayed}."""
        out: dict[str, Any] = {"status": self.status, "run_id": self.run_id}
        if self.data is not None:
            out["data"] = self.data
        if self.error is not None:
            out["error"] = self.error
        if self.replayed:
            out["replayed"] = True
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, o: dict[str, Any], *, replayed: bool = False) -> CallOutcome:
        """An outcome stored with to_dict(), with the remaining keys as extra."""
        known = {"status", "run_id", "data", "error", "replayed"}
        return cls(
            str(o.get("status", "failed")),
            o.get("run_id"),
            data=o.get("data"),
            error=o.get("error"),
            replayed=replayed or bool(o.get("replayed")),
            extra={k: v for k, v in o.items() if k not in known},
        )


def args_fingerprint(tool: str, args: dict[str, Any]) -> str:
    """SHA-256 of the tool and its canonical JSON arguments: what "the same call" means."""
    canon = json.dumps({"tool": tool, "args": args}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()
