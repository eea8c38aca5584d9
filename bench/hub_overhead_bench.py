"""What the hub adds to a tool call, measured against a zero-work webhook endpoint.

Run: uv run python -m bench.hub_overhead_bench [N]
Starts, in separate processes: a zero-work HTTP endpoint standing in for n8n (bench/zero_work.py)
and `hub serve` on SQLite wired to it. Then, in one run: direct POSTs to the endpoint (baseline)
and the same tool call through the hub's REST mirror (auth, validation, idempotency lookup,
routing, run + audit + grant writes, webhook POST, outcome + usage writes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import update

from bench import wrk
from bench.load import concurrent, free_port, sequential, wait_ready
from bench.setup import bench_hub
from bench.stats import print_rows
from hub.registry.models import ToolProvider


def prepare(d: Path, zero_url: str) -> tuple[dict[str, str], str]:
    """The bench hub with send_sms bound to the zero-work endpoint as if deployed."""
    rt, env, token = bench_hub(d, zero_url)
    with rt.db.session() as s:
        s.execute(
            update(ToolProvider)
            .where(ToolProvider.workflow == "twilio/send_sms")
            .values(live_version=1)
        )
    rt.close()
    return env, token


CALLERS = 16


def main(n: int = 2000, seconds: int = 10) -> None:
    """Measure and print a Markdown table."""
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        zport, hport = free_port(), free_port()
        zero_url = f"http://127.0.0.1:{zport}"
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.zero_work", str(zport)]))
        wait_ready(zero_url)
        env, token = prepare(d, zero_url)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "hub", "serve", "--port", str(hport)],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
            )
        )
        try:
            wait_ready(f"http://127.0.0.1:{hport}/healthz")
            args = {"to": "+15551234567", "body": "Your appointment is tomorrow at 9"}

            def direct_body(i: int) -> dict:
                return {
                    "run_id": f"run_{i}",
                    "tenant_id": "ten_x",
                    "tool": "send_sms",
                    "args": args,
                    "grant": "gr_" + "x" * 43,
                    "idempotency_key": f"run_{i}",
                    "edge_url": "http://127.0.0.1/edge/credentials",
                }

            direct_url = f"{zero_url}/webhook/hub/twilio/send_sms/v1"
            hub_url = f"http://127.0.0.1:{hport}/api/tools/send_sms/call"
            auth = {"Authorization": f"Bearer {token}"}
            rows = measure(direct_url, direct_body, hub_url, {"args": args}, auth, n, seconds)
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    print_rows(rows)
    base, hub = rows[0], rows[1]
    print(
        f"\nhub overhead at the median (1 caller): {hub['median_ms'] - base['median_ms']:.3f} ms; "
        f"p99: {hub['p99_ms'] - base['p99_ms']:.3f} ms; "
        f"calls/s through the hub with {CALLERS} callers: {rows[3]['calls_per_s']} "
        f"(direct: {rows[2]['calls_per_s']})"
    )


def measure(
    direct_url: str,
    direct_body: Callable[[int], dict],
    hub_url: str,
    hub_body: dict,
    auth: dict[str, str],
    n: int,
    seconds: int,
) -> list[dict]:
    """Both paths with 1 caller (latency) and CALLERS callers (throughput), baseline first."""
    if not wrk.available():
        print("wrk not found (apt-get install wrk): using the Python client, which caps calls/s")
        base = {**sequential(direct_url, direct_body, {}, n)}
        hub = {**sequential(hub_url, lambda i: hub_body, auth, n)}
        return [
            {"path": "direct POST to the zero-work endpoint, 1 caller", **base},
            {"path": "send_sms through the hub (REST mirror), 1 caller", **hub},
            {
                "path": f"direct, {CALLERS} callers",
                **concurrent(direct_url, direct_body, {}, n, CALLERS),
            },
            {
                "path": f"through the hub, {CALLERS} callers",
                **concurrent(hub_url, lambda i: hub_body, auth, n, CALLERS),
            },
        ]
    # Warm both paths (connections, caches, the registry snapshot) before measuring.
    wrk.run(direct_url, direct_body(0), {}, connections=1, seconds=2)
    wrk.run(hub_url, hub_body, auth, connections=1, seconds=2)
    return [
        {
            "path": "direct POST to the zero-work endpoint, 1 caller",
            **wrk.run(direct_url, direct_body(0), {}, connections=1, seconds=seconds),
        },
        {
            "path": "send_sms through the hub (REST mirror), 1 caller",
            **wrk.run(hub_url, hub_body, auth, connections=1, seconds=seconds),
        },
        {
            "path": f"direct, {CALLERS} callers",
            **wrk.run(direct_url, direct_body(0), {}, connections=CALLERS, seconds=seconds),
        },
        {
            "path": f"through the hub, {CALLERS} callers",
            **wrk.run(hub_url, hub_body, auth, connections=CALLERS, seconds=seconds),
        },
    ]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
