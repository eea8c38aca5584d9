"""What the call path holds in one process: database, vault, the hop, and per-call state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.connections.oauth.refresh import Refresher
from hub.connections.usage import UsageMeter
from hub.core.hop import Hop
from hub.core.settings import Settings
from hub.db.engine import Database
from hub.federation.sessions import Sessions
from hub.runs.handouts import Handouts
from vault import Vault

EDGE_PATH = "/edge/credentials"


@dataclass
class CallPath:
    """One process's call path (REST, MCP and approvals all run calls through it)."""

    settings: Settings
    db: Database
    vault: Vault
    # The hop to n8n, or None while no n8n is registered.
    hop: Hop | None = None
    # Builds the hop from the stored n8n registration (`hub workflows deploy` may register
    # an n8n after this process started).
    connect_hop: Callable[[], Hop | None] = lambda: None
    # Secrets handed to workflows at the edge, until their runs finish (for scrubbing).
    handouts: Handouts = field(default_factory=Handouts)
    # Connection usage counts not yet written (hub.connections.usage).
    usage: UsageMeter = field(default_factory=UsageMeter)
    # Hands out current OAuth access tokens, one refresh per connection at a time.
    refresher: Refresher = field(init=False)
    # Kept-open client sessions to remote MCP servers (hub.federation.sessions).
    sessions: Sessions = field(default_factory=Sessions)

    def __post_init__(self) -> None:
        self.refresher = Refresher(self.db, self.vault)

    @property
    def edge_url(self) -> str:
        """Where workflows redeem their grants."""
        return f"{self.settings.base_url}{EDGE_PATH}"

    def refresh_hop(self) -> None:
        """Rebuild the hop from the stored n8n registration."""
        self.hop = self.connect_hop()

    async def aclose(self) -> None:
        """Close the hop's connections and this loop's remote MCP sessions."""
        if self.hop is not None:
            await self.hop.aclose()
        await self.sessions.aclose()
        self.refresher.close()

    def flush_usage(self) -> None:
        """Write pending usage counts (when the process stops)."""
        if self.usage.pending:
            self.db.writer.run_sync(self.usage.flush)
