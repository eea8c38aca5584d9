"""URL-mode elicitation (MCP 2025-11-25): a client that declares it can open a link for its
user (out of band, nothing passes through the model) is asked to open the connect link;
any other client, or a transport without a back-channel (stateless HTTP), gets the link in
the tool result instead."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError

# The MCP request being handled, set by the server's call handler: a tool deep in dispatch
# needs it only to ask the client something.
current_request: ContextVar[Any] = ContextVar("hub_mcp_request", default=None)

# How long the client may take to say whether its user agreed to open the link.
ELICIT_TIMEOUT_S = 120.0


def _supports_url_mode(session: Any) -> bool:
    caps = getattr(session, "client_capabilities", None)
    elicitation = getattr(caps, "elicitation", None)
    return getattr(elicitation, "url", None) is not None


async def ask_to_open(url: str, message: str, elicitation_id: str) -> str | None:
    """Ask the client to open `url` for its user: accept, decline or cancel; None when the
    client cannot be asked (then the caller returns the link)."""
    ctx = current_request.get()
    session = getattr(ctx, "session", None)
    if session is None or not _supports_url_mode(session):
        return None
    try:
        with anyio.fail_after(ELICIT_TIMEOUT_S):
            got = await session.elicit_url(
                message=message,
                url=url,
                elicitation_id=elicitation_id,
                related_request_id=getattr(ctx, "request_id", None),
            )
    except (MCPError, TimeoutError):
        return None  # no back-channel, a client error or no answer: the link in the result
    return str(got.action)
