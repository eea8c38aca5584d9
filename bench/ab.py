"""Side by side: the same benchmark against this tree's hub and another commit's, in one run.

Set HUB_BENCH_BASELINE_TREE to a checkout of the commit to compare with (with its own `.venv`,
e.g. `git worktree add /tmp/old <commit> && (cd /tmp/old && uv sync --frozen)`). The
benchmarks then start a second `hub serve` from that tree, on the same database (the schema
must be the same), and alternate their rounds between the two hubs, so both see the same
machine; they print the ratio of this tree's numbers to the baseline's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HubBuild:
    """Which code a `hub serve` runs: this tree, or the baseline tree."""

    label: str
    python: str
    cwd: str | None

    def serve(self, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start `hub serve` from this build on `port` (output discarded)."""
        return subprocess.Popen(
            [self.python, "-m", "hub", "serve", "--port", str(port)],
            cwd=self.cwd,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def builds() -> list[HubBuild]:
    """This tree's hub, then the baseline's when HUB_BENCH_BASELINE_TREE names one."""
    out = [HubBuild("hub", sys.executable, None)]
    tree = os.environ.get("HUB_BENCH_BASELINE_TREE")
    if tree:
        root = Path(tree).resolve()
        python = root / ".venv" / "bin" / "python"
        if not python.exists():
            raise SystemExit(f"HUB_BENCH_BASELINE_TREE={root} has no .venv: run uv sync there")
        out.append(HubBuild("hub@baseline", str(python), str(root)))
    return out
