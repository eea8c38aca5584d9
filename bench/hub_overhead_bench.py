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
from pathlib import Path

from sqlalchemy import update

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


def main(n: int = 2000) -> None:
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
            base = {
                **sequential(direct_url, direct_body, {}, n),
                **concurrent(direct_url, direct_body, {}, n),
            }
            hub = {
                **sequential(hub_url, lambda i: {"args": args}, auth, n),
                **concurrent(hub_url, lambda i: {"args": args}, auth, n),
            }
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    rows = [
        {"path": "direct POST to the zero-work endpoint", **base},
        {"path": "send_sms through the hub (REST mirror)", **hub},
    ]
    print_rows(rows)
    print(
        f"\nhub overhead at the median: {hub['median_ms'] - base['median_ms']:.3f} ms; "
        f"p99: {hub['p99_ms'] - base['p99_ms']:.3f} ms; "
        f"throughput ratio hub/direct: {hub['calls_per_s'] / base['calls_per_s']:.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
