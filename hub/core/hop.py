"""The last hop of a tool call: a small protocol, and what its two failures mean.

The spine (hub.runs) hands a prepared call to a Hop and records what came back. Today the
hop is an n8n webhook (hub.n8n.invoke); remote MCP servers are another. What a failure means
matters more than how the hop works: NotSent when the request provably never reached the
other side (a retry may run the call again), OutcomeUnknown once it may have (never resent).
"""

from __future__ import annotations

from typing import Any, Protocol


class NotSent(Exception):
    """The request never reached the other side (connection refused, no such webhook)."""


class OutcomeUnknown(Exception):
    """The request was sent but no usable answer came back (timeout, broken reply)."""


class Hop(Protocol):
    """POSTs one prepared call and returns the workflow contract's answer ({ok, data|error})."""

    async def post(
        self, path: str, body: dict[str, Any], timeout_s: float | None = None
    ) -> dict[str, Any]:
        """Send the call; raises NotSent or OutcomeUnknown when no answer can be had."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
