"""MCP (streamable HTTP, stateless) against the REST mirror, on one hub, in one run.

Run: uv run python -m bench.mcp_bench [N] [N_SMS]
Starts a real local n8n (the project's installer), the vendor sandbox, and `hub serve` on
SQLite in its own process, with every workflow deployed and a Twilio connection pointing at
the sandbox. Then, interleaved so both sides see the same conditions, on keep-alive
connections, one call at a time:

* list: REST `GET /api/tools` vs MCP `tools/list`
* cheap call: REST `GET /api/capabilities` vs MCP `hub_capabilities`, and REST
  `GET /api/connections` vs MCP `hub_query(type=connections)`
* send_sms through n8n and the sandbox: REST `POST /api/tools/send_sms/call` vs MCP
  `tools/call send_sms`

MCP is measured twice: with the SDK's own Client (what an agent runs; includes the client's
pydantic work) and as raw JSON-RPC POSTs over httpx (the same HTTP client as REST, so the
difference is what the server adds).
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.load import free_port, wait_ready
from bench.setup import bench_hub
from bench.stats import percentile, print_rows


def prepare(d: Path, port: int, n8n_url: str, n8n_key: str, sandbox: Any) -> tuple[dict, str]:
    """The bench hub with Twilio on the sandbox and every workflow deployed."""
    from hub.n8n.deploy import deploy_all

    rt, env, token = bench_hub(
        d, n8n_url, port=port, n8n_key=n8n_key, twilio_base_url=sandbox.base_url("twilio")
    )
    deploy_all(rt)
    rt.close()
    return env, token


def stats(lat: list[float]) -> dict[str, float]:
    """Median and p99 in ms."""
    return {
        "median_ms": round(statistics.median(lat) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3),
    }


async def measure(
    hub_url: str, token: str, n: int, n_sms: int
) -> list[tuple[str, str, list[float]]]:
    """Every operation on every path, interleaved; returns (op, path, latencies)."""
    auth = {"Authorization": f"Bearer {token}"}
    sms = {"to": "+15551234567", "body": "Your appointment is tomorrow at 9"}
    mcp_headers = {
        **auth,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-11-25",
    }
    counter = iter(range(10**9))

    def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": next(counter), "method": method, "params": params}

    async with (
        httpx.AsyncClient(base_url=hub_url, timeout=60, headers=auth) as rest,
        httpx.AsyncClient(base_url=hub_url, timeout=60, headers=mcp_headers) as raw,
        httpx2.AsyncClient(headers=auth, timeout=60) as hc,
        Client(streamable_http_client(hub_url + "/mcp", http_client=hc)) as sdk,
    ):

        def checked(r: httpx.Response) -> httpx.Response:
            if r.status_code >= 300:
                raise RuntimeError(f"{r.request.url} answered {r.status_code}: {r.text[:300]}")
            if r.headers.get("content-type", "").startswith("application/json"):
                body = r.json()
                if isinstance(body, dict) and (
                    body.get("error") or (body.get("result") or {}).get("isError")
                ):
                    raise RuntimeError(f"{r.request.url}: {r.text[:300]}")
            return r

        async def raw_call(method: str, params: dict[str, Any]) -> Any:
            return checked(await raw.post("/mcp", json=rpc(method, params)))

        async def sdk_call(name: str, args: dict[str, Any]) -> Any:
            r = await sdk.call_tool(name, args)
            if r.is_error:
                raise RuntimeError(f"{name}: {r.content}")
            return r

        ops: list[tuple[str, int, dict[str, Callable[[], Awaitable[Any]]]]] = [
            (
                "list tools",
                n,
                {
                    "REST GET /api/tools": lambda: rest.get("/api/tools"),
                    "MCP tools/list (raw JSON-RPC)": lambda: raw_call("tools/list", {}),
                    "MCP tools/list (SDK client)": lambda: sdk.list_tools(),
                },
            ),
            (
                "capabilities",
                n,
                {
                    "REST GET /api/capabilities": lambda: rest.get("/api/capabilities"),
                    "MCP hub_capabilities (raw JSON-RPC)": lambda: raw_call(
                        "tools/call", {"name": "hub_capabilities", "arguments": {}}
                    ),
                    "MCP hub_capabilities (SDK client)": lambda: sdk_call("hub_capabilities", {}),
                },
            ),
            (
                "read connections",
                n,
                {
                    "REST GET /api/connections": lambda: rest.get("/api/connections"),
                    "MCP hub_query connections (raw JSON-RPC)": lambda: raw_call(
                        "tools/call",
                        {"name": "hub_query", "arguments": {"type": "connections"}},
                    ),
                    "MCP hub_query connections (SDK client)": lambda: sdk_call(
                        "hub_query", {"type": "connections"}
                    ),
                },
            ),
            (
                "send_sms via n8n",
                n_sms,
                {
                    "REST POST /api/tools/send_sms/call": lambda: rest.post(
                        "/api/tools/send_sms/call", json={"args": sms}
                    ),
                    "MCP send_sms (raw JSON-RPC)": lambda: raw_call(
                        "tools/call", {"name": "send_sms", "arguments": sms}
                    ),
                    "MCP send_sms (SDK client)": lambda: sdk_call("send_sms", sms),
                },
            ),
        ]
        out = []
        for op, count, paths in ops:
            lat: dict[str, list[float]] = {p: [] for p in paths}
            for _ in range(10):  # warm-up
                for fn in paths.values():
                    r = await fn()
                    if isinstance(r, httpx.Response):
                        checked(r)
            for i in range(count):
                # Rotate the order each round so no path always runs first.
                names = list(paths)
                names = names[i % len(names) :] + names[: i % len(names)]
                for name in names:
                    t = time.perf_counter()
                    r = await paths[name]()
                    lat[name].append(time.perf_counter() - t)
                    if isinstance(r, httpx.Response):
                        checked(r)
            out += [(op, p, lat[p]) for p in paths]
        return out


def main(n: int = 300, n_sms: int = 100) -> None:
    """Set everything up, measure, print a Markdown table and the overheads."""
    from hub.n8n.install import ensure_n8n
    from hub.n8n.local import LocalN8n
    from hub.n8n.provision import provision_owner_and_key
    from hub.sandbox import Sandbox, ensure_prism

    install, prism = ensure_n8n(progress=True), ensure_prism(progress=True)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        n8n = LocalN8n(
            install,
            d / "n8n",
            free_port(pair=True),
            encryption_key=secrets.token_hex(16),
            die_with_parent=True,
        )
        n8n.start()
        sandbox = Sandbox(prism, 0, die_with_parent=True)
        sandbox.start()
        hub: subprocess.Popen | None = None
        try:
            n8n_key = provision_owner_and_key(n8n.url, "bench@hub.test", "Bench-Passw0rd-1")
            port = free_port()
            env, token = prepare(d, port, n8n.url, n8n_key, sandbox)
            hub = subprocess.Popen(
                [sys.executable, "-m", "hub", "serve", "--port", str(port)],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
            )
            wait_ready(f"http://127.0.0.1:{port}/healthz")
            results = asyncio.run(measure(f"http://127.0.0.1:{port}", token, n, n_sms))
        finally:
            if hub is not None:
                hub.terminate()
                hub.wait(10)
            sandbox.stop()
            n8n.stop()
    rows = [{"operation": op, "path": p, "n": len(lat), **stats(lat)} for op, p, lat in results]
    print_rows(rows)
    print()
    by_op: dict[str, dict[str, list[float]]] = {}
    for op, p, lat in results:
        by_op.setdefault(op, {})[p] = lat
    for op, paths in by_op.items():
        rest_name = next(p for p in paths if p.startswith("REST"))
        rest = statistics.median(paths[rest_name])
        for p, lat in paths.items():
            if p == rest_name:
                continue
            med = statistics.median(lat)
            print(
                f"{op}: {p} adds {1000 * (med - rest):+.3f} ms at the median "
                f"(ratio {med / rest:.2f}; p99 {1000 * percentile(lat, 99):.3f} vs "
                f"{1000 * percentile(paths[rest_name], 99):.3f} ms)"
            )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 300,
        int(sys.argv[2]) if len(sys.argv) > 2 else 100,
    )
