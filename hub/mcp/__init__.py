"""The MCP server: Layer 1 hub tools, hub-native tools and registry tools, over
streamable HTTP (stateless, /mcp) and stdio (`hub mcp`)."""
