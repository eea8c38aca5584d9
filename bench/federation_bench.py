"""Remote MCP tools through the hub, side by side with the same call straight to the server.

Run: uv run python -m bench.federation_bench [N]
Starts, each in its own process: an SDK-built MCP server on loopback (the tests' server,
tests.federation.servers) and `hub serve` on SQLite with that server registered and its
`add` tool approved. Then, interleaved call by call on kept-open sessions (the SDK's
Client, as an agent would run it):

* direct: `tools/call add` on the remote server;
* through the hub: `tools/call bench__add` on the hub's /mcp (validation, gate, run record,
  audit, the remote hop with the vault-held credential, scrubbing, finish).

Second part: `tools/list` for a tenant with 20 servers x 50 approved tools (raw JSON-RPC POSTs
to /mcp), next to `tools/list` for a tenant with no server, to show what the remote tools
cost; the 20 servers' URLs point at a closed port, so any remote call would fail loudly.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx
import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.load import free_port, wait_ready
from bench.setup import bench_hub
from bench.stats import percentile, print_rows


def serve_remote(port: int) -> None:
    """Child process: the tests' changeable MCP server on a loopback port."""
    import uvicorn

    from tests.federation.servers import Remote, _app_of

    r = Remote()
    r.seed()
    uvicorn.run(_app_of(r), host="127.0.0.1", port=port, log_level="warning")


def prepare(d: Path, hub_port: int, remote_url: str) -> tuple[dict[str, str], str, str]:
    """The bench hub: the remote server registered and `add` approved; a crowded tenant."""
    from hub.accounts import service as accounts
    from hub.core.outbound import parse_allow
    from hub.db.base import utcnow
    from hub.federation import service
    from hub.federation.models import McpServer, McpTool
    from hub.federation.pinning import exposed_name, tool_hash
    from hub.federation.refresh import refresh

    rt, env, token = bench_hub(d, "http://127.0.0.1:9", port=hub_port)
    env["HUB_OUTBOUND_ALLOW"] = "127.0.0.0/8"
    settings = rt.settings.model_copy(update={"outbound_allow": "127.0.0.0/8"})
    with rt.db.session() as s:
        tenant = accounts.get_tenant(s, "bench")
        m = service.register(
            s,
            rt.vault,
            tenant.id,
            "bench",
            name="bench",
            url=remote_url,
            auth={"type": "bearer", "token": secrets.token_hex(16)},
            allow=parse_allow(settings.outbound_allow),
        )
        sid = m.id
    anyio.run(refresh, rt.db, rt.vault, settings, tenant.id, sid, "bench")
    with rt.db.session() as s:
        service.approve(s, tenant.id, "bench", sid, "add", "unrestricted")
        crowd = accounts.create_tenant(s, "crowd")
        _, crowd_token = accounts.create_token(s, crowd.id, "agent")
        schema = {
            "type": "object",
            "properties": {"q": {"type": "string", "description": "A query."}},
            "required": ["q"],
        }
        for i in range(20):
            srv = McpServer(
                tenant_id=crowd.id,
                name=f"srv{i}",
                url="http://127.0.0.1:9/mcp",
                health="connected",
                server_info={},
            )
            s.add(srv)
            s.flush()
            for j in range(50):
                d_ = {
                    "name": f"tool_{j}",
                    "title": f"Tool {j}",
                    "description": f"Does thing {j} of server {i}. " * 4,
                    "input_schema": schema,
                    "output_schema": None,
                    "annotations": {"readOnlyHint": True},
                }
                s.add(
                    McpTool(
                        server_id=srv.id,
                        tenant_id=crowd.id,
                        name=f"tool_{j}",
                        exposed_name=exposed_name(srv.name, f"tool_{j}"),
                        definition=d_,
                        hash=tool_hash(d_),
                        state="approved",
                        proposed_permission="unrestricted",
                        permission="unrestricted",
                        approved_definition=d_,
                        approved_hash=tool_hash(d_),
                        approved_at=utcnow(),
                    )
                )
    rt.close()
    return env, token, crowd_token


def stats(lat: list[float]) -> dict[str, float]:
    """Median and p99 in ms."""
    return {
        "median_ms": round(statistics.median(lat) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3),
    }


async def calls(hub_url: str, remote_url: str, token: str, n: int) -> dict[str, list[float]]:
    """Interleaved: direct call, hub call; each on its own kept-open SDK session."""
    out: dict[str, list[float]] = {"direct": [], "hub": []}
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(timeout=30) as rc,
        Client(streamable_http_client(remote_url, http_client=rc), mode="legacy") as direct,
        httpx2.AsyncClient(headers=auth, timeout=30) as hc,
        Client(streamable_http_client(hub_url + "/mcp", http_client=hc), mode="legacy") as hub,
    ):
        for i in range(-30, n):
            for name, client, tool in (("direct", direct, "add"), ("hub", hub, "bench__add")):
                t = time.perf_counter()
                r = await client.call_tool(tool, {"a": i, "b": 1})
                dt = time.perf_counter() - t
                if r.is_error:
                    raise RuntimeError(f"{name}: {r}")
                if i >= 0:
                    out[name].append(dt)
    return out


def lists(hub_url: str, tokens: dict[str, str], n: int) -> dict[str, list[float]]:
    """tools/list per tenant, raw JSON-RPC on one keep-alive connection, interleaved."""
    out: dict[str, list[float]] = {k: [] for k in tokens}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    with httpx.Client(timeout=30) as c:
        for i in range(-10, n):
            for name, tok in tokens.items():
                headers = {
                    "Authorization": f"Bearer {tok}",
                    "Accept": "application/json, text/event-stream",
                    "Content-Type": "application/json",
                    "MCP-Protocol-Version": "2025-11-25",
                }
                t = time.perf_counter()
                r = c.post(hub_url + "/mcp", json=body, headers=headers)
                dt = time.perf_counter() - t
                if r.status_code != 200:
                    raise RuntimeError(r.text[:300])
                if i == -10:
                    count = len(r.json()["result"]["tools"])
                    print(f"# tools/list {name}: {count} tools", file=sys.stderr)
                if i >= 0:
                    out[name].append(dt)
    return out


def main() -> None:
    """Start both servers, measure, print Markdown rows."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    remote_port, hub_port = free_port(), free_port()
    remote_url = f"http://127.0.0.1:{remote_port}/mcp"
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.federation_bench",
                        "--serve-remote",
                        str(remote_port),
                    ]
                )
            )
            wait_ready(f"http://127.0.0.1:{remote_port}/mcp", timeout=180)
            env, token, crowd = prepare(Path(tmp), hub_port, remote_url)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "hub", "serve", "--port", str(hub_port)],
                    env={**os.environ, **env},
                )
            )
            hub_url = f"http://127.0.0.1:{hub_port}"
            wait_ready(hub_url + "/health", timeout=180)
            hub_proc = psutil.Process(procs[-1].pid)
            before = hub_proc.cpu_times()
            lat = asyncio.run(calls(hub_url, remote_url, token, n))
            after = hub_proc.cpu_times()
            # The hub process's CPU over the calls (30 warm-up calls included), per hub call.
            cpu_ms = (after.user - before.user + after.system - before.system) * 1000 / (n + 30)
            d, h = stats(lat["direct"]), stats(lat["hub"])
            print(f"\n## remote tool call, {n} interleaved calls each\n")
            print_rows(
                [
                    {"path": "direct to the MCP server (SDK Client)", **d, "hub / direct": ""},
                    {
                        "path": "through the hub's /mcp (SDK Client)",
                        **h,
                        "hub / direct": f"{h['median_ms'] / d['median_ms']:.2f} "
                        f"(+{h['median_ms'] - d['median_ms']:.2f} ms)",
                    },
                ]
            )
            print(f"\nhub process CPU per hub call: {cpu_ms:.2f} ms")
            ls = lists(hub_url, {"no servers": token, "20 servers x 50 tools": crowd}, n)
            base = stats(ls["no servers"])
            print("\n## tools/list (raw JSON-RPC, keep-alive)\n")
            print_rows(
                [
                    {
                        "tenant": k,
                        **stats(v),
                        "vs no servers": f"{stats(v)['median_ms'] / base['median_ms']:.2f}",
                    }
                    for k, v in ls.items()
                ]
            )
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-remote":
        serve_remote(int(sys.argv[2]))
    else:
        main()
