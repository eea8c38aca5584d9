"""Load from wrk (a C load generator), so the client is not the bottleneck being measured.

A Python client on this 2-core machine tops out near 330 calls/s against an endpoint that
does nothing; wrk drives the same endpoint several times harder from a fraction of a core.
Install it with `apt-get install wrk`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def available() -> bool:
    """Whether wrk is on PATH."""
    return shutil.which("wrk") is not None


def _script(body: dict, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    for k, v in headers.items():
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if m is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run(
    url: str,
    body: dict,
    headers: dict[str, str],
    *,
    connections: int,
    seconds: int = 10,
    threads: int = 1,
) -> dict[str, float]:
    """POST the same body for `seconds` over `connections`; median/p99 ms and calls/s."""
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "post.lua"
        script.write_text(_script(body, headers))
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed calls at {url}:\n{out}")
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None or "50" not in pct:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return {
        "median_ms": round(_ms(pct["50"]), 3),
        "p99_ms": round(_ms(pct["99"]), 3),
        "calls_per_s": round(float(rps.group(1)), 1),
    }
