"""HTTP load helpers: sequential latency on one keep-alive connection, concurrent throughput."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.stats import percentile


def latencies(
    url: str,
    make_body: Callable[[int], dict[str, Any]],
    headers: dict[str, str],
    n: int,
    warmup: int = 30,
) -> list[float]:
    """n POSTs one after another on one keep-alive connection; each one's seconds."""
    lat = []
    with httpx.Client(timeout=30) as c:
        for i in range(warmup):
            c.post(url, json=make_body(-i - 1), headers=headers)
        for i in range(n):
            t = time.perf_counter()
            r = c.post(url, json=make_body(i), headers=headers)
            lat.append(time.perf_counter() - t)
            if r.status_code >= 300:
                raise RuntimeError(f"{url} answered {r.status_code}: {r.text[:300]}")
    return lat


def latency_summary(lat: list[float]) -> dict[str, float]:
    """Median and p99 in ms."""
    return {
        "median_ms": round(statistics.median(lat) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3),
    }


def sequential(
    url: str,
    make_body: Callable[[int], dict[str, Any]],
    headers: dict[str, str],
    n: int,
    warmup: int = 30,
) -> dict[str, float]:
    """n POSTs one after another; median/p99 latency in ms."""
    return latency_summary(latencies(url, make_body, headers, n, warmup))


def concurrent(
    url: str,
    make_body: Callable[[int], dict[str, Any]],
    headers: dict[str, str],
    n: int,
    workers: int = 16,
) -> dict[str, float]:
    """n POSTs from `workers` concurrent keep-alive connections; calls per second."""

    async def run() -> float:
        counter = iter(range(n))
        errors = 0
        async with httpx.AsyncClient(
            timeout=60,
            limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
        ) as c:

            async def worker() -> None:
                nonlocal errors
                for i in counter:
                    r = await c.post(url, json=make_body(10_000_000 + i), headers=headers)
                    errors += r.status_code >= 300

            t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            wall = time.perf_counter() - t
        if errors:
            raise RuntimeError(f"{errors} failed calls under load at {url}")
        return wall

    wall = asyncio.run(run())
    return {"calls_per_s": round(n / wall, 1)}


def free_port(pair: bool = False) -> int:
    """A free TCP port (with a free successor when pair: n8n's task broker uses port+1)."""
    for _ in range(100):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            if not pair:
                return port
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def wait_ready(url: str, timeout: float = 60) -> None:
    """Poll until the URL answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")
