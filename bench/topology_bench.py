"""The production topology's throughput (`scripts/stack`), side by side in one run.

`uv run python -m bench.topology_bench [--seconds 20] [--callers 8] [--soak 600]`

Starts the native stack (2 hubs, 2 n8n workers, HAProxy, Redis, PostgreSQL databases on the
machine's server, the sandbox), connects a tenant's Twilio to the sandbox and drives
`send_sms` through the load balancer with closed-loop callers in four shapes, taking parts
out of HAProxy's rotation (stopped) and back:

* 2 hubs + 2 workers (the baseline the ratios are against), 1 hub + 2 workers,
  2 hubs + 1 worker, 1 hub + 1 worker;

reporting calls/s, median and p99 latency, errors, and CPU per call (user + system seconds of
every stack process and its children over the window, divided by the calls; split by part).
With ``--soak S`` it then runs S seconds at half the best measured rate (paced callers) and
samples every process's resident memory each minute. `scripts/stack down` at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import psutil

from bench.stats import percentile
from hub.core.settings import Settings
from hub.runtime import open_runtime
from hub.stack.stack import Stack


def part_of(name: str) -> str:
    """Group stack parts for the CPU split."""
    for prefix in ("hub-", "n8n-worker-"):
        if name.startswith(prefix):
            return prefix.rstrip("-")
    return name


def processes(stack: Stack) -> dict[str, list[psutil.Process]]:
    """part -> its processes (children included), alive now."""
    out: dict[str, list[psutil.Process]] = defaultdict(list)
    for name, d, alive in stack.running():
        if not alive:
            continue
        p = d.process()
        if p is None:
            continue
        with contextlib.suppress(psutil.Error):
            out[name] = [p, *p.children(recursive=True)]
    return out


def cpu_by_part(stack: Stack) -> dict[str, float]:
    """Cumulative CPU seconds (user + system) per part."""
    out: dict[str, float] = defaultdict(float)
    for name, procs in processes(stack).items():
        for p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                out[part_of(name)] += t.user + t.system
    return out


class Caller:
    """One tenant agent calling send_sms through the load balancer."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.seq = 0
        self.lock = threading.Lock()

    def once(self, http: httpx.Client) -> tuple[float, bool]:
        with self.lock:
            self.seq += 1
            n = self.seq
        t0 = time.perf_counter()
        try:
            r = http.post(
                f"{self.url}/api/tools/send_sms/call",
                json={"args": {"to": "+15551234567", "body": f"bench {n}"}},
                headers=self.headers,
            )
            ok = r.status_code == 200 and r.json().get("status") == "succeeded"
        except httpx.HTTPError:
            ok = False
        return time.perf_counter() - t0, ok


def closed_loop(caller: Caller, seconds: float, callers: int) -> tuple[list[float], int, float]:
    """``callers`` threads back to back for ``seconds``: latencies, errors, elapsed."""
    lat: list[float] = []
    errors = 0
    mu = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        nonlocal errors
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < deadline:
                d, ok = caller.once(http)
                with mu:
                    lat.append(d)
                    errors += 0 if ok else 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, errors, time.monotonic() - t0


def measure(stack: Stack, caller: Caller, label: str, seconds: float, callers: int) -> dict:
    """One shape: warm up, then a timed window with CPU accounting."""
    closed_loop(caller, 3, callers)  # warm-up (keep-alives, n8n's caches)
    before = cpu_by_part(stack)
    lat, errors, elapsed = closed_loop(caller, seconds, callers)
    after = cpu_by_part(stack)
    calls = len(lat)
    cpu = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {
        "shape": label,
        "calls": calls,
        "errors": errors,
        "per_s": calls / elapsed,
        "median_ms": statistics.median(lat) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "cpu_ms_per_call": 1000 * sum(cpu.values()) / max(calls, 1),
        "cpu_split": {k: round(1000 * v / max(calls, 1), 1) for k, v in sorted(cpu.items())},
    }


def set_shape(stack: Stack, hubs: int, workers: int) -> None:
    """Stop or start replicas and workers to reach the shape; wait for HAProxy to notice."""
    for i in (1, 2):
        name = f"hub-{i}"
        (stack.start_one if i <= hubs else stack.stop_one)(name)
        wname = f"n8n-worker-{i}"
        (stack.start_one if i <= workers else stack.stop_one)(wname)
    time.sleep(3)  # two health-check intervals


def soak(stack: Stack, caller: Caller, rate: float, seconds: float, callers: int) -> dict:
    """Paced load at ``rate`` calls/s; RSS of every process each minute."""
    interval = callers / rate  # each caller's period
    errors = Counter[str]()
    lat: list[float] = []
    mu = threading.Lock()
    deadline = time.monotonic() + seconds
    samples: list[tuple[int, dict[str, float]]] = []

    def run(offset: float) -> None:
        nxt = time.monotonic() + offset
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < deadline:
                time.sleep(max(0.0, nxt - time.monotonic()))
                nxt += interval
                d, ok = caller.once(http)
                with mu:
                    lat.append(d)
                    if not ok:
                        errors["failed"] += 1

    def rss() -> dict[str, float]:
        out: dict[str, float] = {}
        for name, procs in processes(stack).items():
            total = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            out[name] = total / 2**20
        return out

    threads = [threading.Thread(target=run, args=(i * interval / callers,)) for i in range(callers)]
    t0 = time.monotonic()
    samples.append((0, rss()))
    for t in threads:
        t.start()
    minute = 1
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        if time.monotonic() - t0 >= 60 * minute:
            samples.append((minute, rss()))
            print(f"  soak minute {minute}: {len(lat)} calls, {sum(errors.values())} errors")
            minute += 1
    for t in threads:
        t.join()
    samples.append((round((time.monotonic() - t0) / 60), rss()))
    return {
        "calls": len(lat),
        "errors": sum(errors.values()),
        "per_s": len(lat) / (time.monotonic() - t0),
        "median_ms": statistics.median(lat) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "rss": samples,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the shapes (and the soak when asked); print markdown tables."""
    ap = argparse.ArgumentParser(prog="python -m bench.topology_bench")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--callers", type=int, default=8)
    ap.add_argument("--soak", type=float, default=0, help="soak seconds at half the max rate")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args(argv)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="hub-bench-stack-"))
    stack = Stack(folder)
    print(f"starting the stack in {folder} ...", flush=True)
    stack.up()
    try:
        rt = open_runtime(
            Settings(
                mode="production",
                data_dir=folder / "bench",
                database_url=stack.hub_database_url,
                master_key_file=stack.master_key_file,
                scheduler_enabled=False,
            )
        )
        from hub.accounts import service as accounts
        from hub.sandbox.demo import demo_credentials

        with rt.db.session() as s:
            t = accounts.create_tenant(s, "bench")
            _, admin = accounts.create_token(s, t.id, "admin", "bench admin")
            _, agent = accounts.create_token(s, t.id, "agent", "bench agent")
        rt.close()
        r = httpx.post(
            f"{stack.url}/api/connections",
            json={
                "integration": "twilio",
                "credentials": demo_credentials()["twilio"],
                "base_url": f"{stack.sandbox_url}/twilio",
            },
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        r.raise_for_status()
        caller = Caller(stack.url, agent)
        rows = []
        for hubs, workers in ((2, 2), (1, 2), (2, 1), (1, 1)):
            set_shape(stack, hubs, workers)
            label = (
                f"{hubs} hub{'s' if hubs > 1 else ''}, {workers} worker{'s' if workers > 1 else ''}"
            )
            row = measure(stack, caller, label, args.seconds, args.callers)
            print(row, flush=True)
            rows.append(row)
        base = rows[0]
        print(f"\n{args.callers} closed-loop callers, {args.seconds:.0f} s a shape\n")
        print(
            "| shape | calls | errors | calls/s | median | p99 | CPU/call "
            "| vs 2+2 calls/s | CPU split (ms/call) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r_ in rows:
            split = ", ".join(f"{k} {v}" for k, v in r_["cpu_split"].items() if v >= 0.5)
            print(
                f"| {r_['shape']} | {r_['calls']} | {r_['errors']} | {r_['per_s']:.1f} | "
                f"{r_['median_ms']:.1f} ms | {r_['p99_ms']:.1f} ms | "
                f"{r_['cpu_ms_per_call']:.1f} ms | "
                f"{r_['per_s'] / base['per_s']:.2f} | {split} |"
            )
        if args.soak:
            set_shape(stack, 2, 2)
            best = max(r_["per_s"] for r_ in rows)
            rate = best / 2
            print(
                f"\nsoak: {args.soak:.0f} s at {rate:.1f} calls/s (half of {best:.1f})", flush=True
            )
            res = soak(stack, caller, rate, args.soak, args.callers)
            print(
                f"calls {res['calls']}, errors {res['errors']}, {res['per_s']:.1f}/s, "
                f"median {res['median_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms"
            )
            names = sorted({n for _, s in res["rss"] for n in s})
            print("\n| minute | " + " | ".join(names) + " |")
            print("|---|" + "---|" * len(names))
            for minute, sample in res["rss"]:
                print(
                    f"| {minute} | " + " | ".join(f"{sample.get(n, 0):.0f}" for n in names) + " |"
                )
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
