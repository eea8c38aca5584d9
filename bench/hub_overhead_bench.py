"""What the hub adds to a tool call, measured against a zero-work webhook endpoint.

Run: uv run python -m bench.hub_overhead_bench [ROUNDS] [SECONDS]
Starts, in separate processes: a zero-work HTTP endpoint standing in for n8n (bench/zero_work.py)
and `hub serve` on SQLite wired to it, logging at INFO as in production. Then alternates, for
ROUNDS rounds of SECONDS each, direct POSTs to the endpoint (baseline) and the same tool call
through the hub's REST mirror (auth, validation, permission gate, routing, run + audit +
grant writes, webhook POST, outcome writes), first with one caller (latency), then with 16
(throughput). With HUB_BENCH_BASELINE_TREE set (bench/ab.py) a second hub from that
commit runs on the same database and takes its turn in every round. Load comes from wrk
(apt-get install wrk). Alternating rounds matters here: this machine's speed drifts by tens
of percent from minute to minute, and both paths see the same drift. Reported: the median
over rounds of each round's median, p99 and calls/s, and the CPU the hub process used per
call (from /proc).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

from bench import wrk
from bench.ab import builds
from bench.load import free_port, wait_ready
from bench.setup import bench_hub
from bench.stats import print_rows
from hub.registry.models import ToolProvider

CALLERS = 16
ARGS = {"to": "+15551234567", "body": "Your appointment is tomorrow at 9"}


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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def speed_probe() -> float:
    """Seconds a fixed pure-Python loop takes now (the machine's speed drifts)."""
    t = time.perf_counter()
    sum(range(10_000_000))
    return round(time.perf_counter() - t, 3)


def measure(
    url: str, body: dict, headers: dict[str, str], pid: int, callers: int, seconds: int
) -> dict[str, float]:
    """One round: wrk's numbers plus the CPU `pid` spent per call."""
    before = cpu_s(pid)
    got = wrk.run(url, body, headers, connections=callers, seconds=seconds)
    calls = got["calls_per_s"] * seconds
    return {**got, "cpu_ms_per_call": round((cpu_s(pid) - before) * 1000 / calls, 3)}


def combine(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Median over rounds of each number, and the spread of the medians."""
    out = {k: round(statistics.median(r[k] for r in rounds), 3) for k in rounds[0]}
    meds = [r["median_ms"] for r in rounds]
    out["median_range_ms"] = f"{min(meds):.2f}-{max(meds):.2f}"  # type: ignore[assignment]
    return out


def main(rounds: int = 5, seconds: int = 5) -> None:
    """Measure and print a Markdown table."""
    if not wrk.available():
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    procs: list[subprocess.Popen[bytes]] = []
    hubs = builds()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        zport = free_port()
        zero_url = f"http://127.0.0.1:{zport}"
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.zero_work", str(zport)]))
        wait_ready(zero_url)
        env, token = prepare(d, zero_url)
        env["HUB_LOG_LEVEL"] = "INFO"  # what production runs with
        paths: dict[str, tuple[str, dict, dict[str, str], int]] = {}
        try:
            paths["direct"] = (
                f"{zero_url}/webhook/hub/twilio/send_sms/v1",
                {"run_id": "run_x", "tool": "send_sms", "args": ARGS, "grant": "gr_" + "x" * 43},
                {},
                procs[0].pid,
            )
            for build in hubs:
                hport = free_port()
                proc = build.serve(hport, env)
                procs.append(proc)
                wait_ready(f"http://127.0.0.1:{hport}/healthz")
                paths[build.label] = (
                    f"http://127.0.0.1:{hport}/api/tools/send_sms/call",
                    {"args": ARGS},
                    {"Authorization": f"Bearer {token}"},
                    proc.pid,
                )
            # Warm every path (connections, caches, the registry snapshot).
            for path in paths.values():
                measure(*path, 1, 2)
            probes = [speed_probe()]
            results: dict[tuple[str, int], list[dict[str, float]]] = {}
            for callers in (1, CALLERS):
                for _ in range(rounds):
                    for name, path in paths.items():
                        results.setdefault((name, callers), []).append(
                            measure(*path, callers, seconds)
                        )
            probes.append(speed_probe())
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    labels = {
        "direct": "direct POST to the zero-work endpoint",
        "hub": "send_sms through the hub (REST mirror)",
        "hub@baseline": "send_sms through the baseline hub",
    }
    rows = [
        {"path": labels[name], "callers": callers, **combine(rs)}
        for (name, callers), rs in results.items()
    ]
    print_rows(rows)
    by = {(name, callers): combine(rs) for (name, callers), rs in results.items()}
    d1, h1 = by[("direct", 1)], by[("hub", 1)]
    dn, hn = by[("direct", CALLERS)], by[("hub", CALLERS)]
    print(
        f"\nhub overhead at the median, 1 caller: {h1['median_ms'] - d1['median_ms']:.3f} ms "
        f"(goal < 2 ms); calls/s through the hub with {CALLERS} callers: "
        f"{hn['calls_per_s']} (goal >= 500; direct: {dn['calls_per_s']}); "
        f"hub CPU per call: {h1['cpu_ms_per_call']} ms (1 caller), "
        f"{hn['cpu_ms_per_call']} ms ({CALLERS} callers); "
        f"speed probe before/after: {probes[0]} s / {probes[1]} s"
    )
    if ("hub@baseline", 1) in by:
        b1, bn = by[("hub@baseline", 1)], by[("hub@baseline", CALLERS)]
        print(
            "this tree / baseline: overhead at 1 caller "
            f"{h1['median_ms'] - d1['median_ms']:.3f} / "
            f"{b1['median_ms'] - d1['median_ms']:.3f} ms; "
            f"median {h1['median_ms'] / b1['median_ms']:.3f}x (1 caller), "
            f"{hn['median_ms'] / bn['median_ms']:.3f}x ({CALLERS} callers); "
            f"calls/s {hn['calls_per_s'] / bn['calls_per_s']:.3f}x; "
            f"CPU per call {h1['cpu_ms_per_call'] / b1['cpu_ms_per_call']:.3f}x (1 caller), "
            f"{hn['cpu_ms_per_call'] / bn['cpu_ms_per_call']:.3f}x ({CALLERS} callers)"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
