// The TypeScript MCP SDK's own client against the hub: it validates every tool result
// (error results too) against the tool's outputSchema and throws when one does not match.
// Usage: node ts_client.mjs URL TOKEN CALLS_JSON  -> prints {"results": [...]} or exits 1.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token, callsJson] = process.argv.slice(2);
const calls = JSON.parse(callsJson);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "ts-check", version: "1.0.0" });
const out = [];
try {
  await client.connect(transport);
  const listed = await client.listTools();
  for (const [name, args] of calls) {
    try {
      const r = await client.callTool({ name, arguments: args });
      out.push({ name, ok: true, isError: !!r.isError, status: r.structuredContent?.status ?? null });
    } catch (e) {
      out.push({ name, ok: false, error: String(e && e.message ? e.message : e) });
    }
  }
  console.log(JSON.stringify({ tools: listed.tools.length, results: out }));
  await client.close();
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
}
