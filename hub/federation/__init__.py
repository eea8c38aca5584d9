"""Remote MCP servers an admin registers (issue 9): discovery, pinning, refresh, health.

One door (hub.federation.service); calls to remote tools go through the spine
(hub.runs.remote), like the hub's own tools.
"""
