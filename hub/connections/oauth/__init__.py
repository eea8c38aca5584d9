"""OAuth 2.0 for connections: provider data, the operator's apps, states, the flow, refresh.

`client` holds the protocol calls (Authlib) and nothing of the hub, so other packages (remote
MCP servers) can reuse it with their own endpoints and client."""
