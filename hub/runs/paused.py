"""Paused runs (seed 000): calls that need a connection in error are kept, not lost, and run
again in order, each exactly once, when the connection passes a test. Filled in by issue 10's
item 6; until then nothing is ever paused, so there is nothing to resume."""

from __future__ import annotations

from hub.runs.callpath import CallPath


async def resume_paused(path: CallPath, tenant_id: str, connection_id: str) -> int:
    """Resume the calls paused on a connection; returns how many ran."""
    return 0
