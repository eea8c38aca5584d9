"""Timing helpers for the benchmarks: median and tail of a list of durations."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def percentile(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def time_each(fn: Callable[[], object], n: int, warmup: int = 20) -> list[float]:
    """Run fn n times after a warm-up; returns each duration in seconds."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def summary(name: str, xs: list[float], unit: float = 1e6, label: str = "us") -> dict:
    """A result row: median, p99 and rate."""
    med = statistics.median(xs)
    return {
        "name": name,
        "n": len(xs),
        f"median_{label}": round(med * unit, 2),
        f"p99_{label}": round(percentile(xs, 99) * unit, 2),
        "per_s": round(1 / med) if med else None,
    }


def print_rows(rows: list[dict]) -> None:
    """Print result rows as a Markdown table."""
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
