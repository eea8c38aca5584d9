"""One native production stack for tests/topology/test_faults.py (`scripts/stack up`).

The stack runs a private PostgreSQL cluster (the machine's shared server is never
restarted), a run timeout of 8 s and a 2 s scheduler interval, so interrupted runs are
reconciled and leadership moves within seconds. `scripts/stack down` at the end must leave
no process it started, drop its databases, and leave everything else running.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import psutil
import pytest
from sqlalchemy import text

from hub.core.calls import NOTHING_SENT
from hub.core.settings import Settings
from hub.runtime import Runtime, open_runtime
from hub.stack.stack import Stack
from tests.conftest import TenantKit, create_tenant_kit
from tests.helpers import twilio_credentials

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 8
SCHEDULER_INTERVAL_S = 2


@dataclass
class Result:
    """What one caller was told."""

    marker: str
    status: int | None  # None: the connection itself failed
    kind: str | None  # the hub's error kind or run status
    replica: str | None


@dataclass
class Topology:
    """The running stack, an in-process view of its database, and a connected tenant."""

    stack: Stack
    rt: Runtime
    tenant: TenantKit
    seq: int = 0
    results: list[Result] = field(default_factory=list)

    def marker(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}-{time.monotonic_ns()}"

    def call(self, marker: str, *, via: str | None = None, timeout: float = 60) -> Result:
        """send_sms through the load balancer (or one replica), the marker as body and key."""
        url = via or self.stack.url
        try:
            r = httpx.post(
                f"{url}/api/tools/send_sms/call",
                json={
                    "args": {"to": "+15551234567", "body": marker},
                    "idempotency_key": marker,
                },
                headers=self.tenant.h("agent"),
                timeout=timeout,
            )
        except httpx.TransportError:
            return Result(marker, None, "transport", None)
        kind: str | None
        try:
            body = r.json()
            kind = (body.get("error") or {}).get("kind") or body.get("status")
        except ValueError:
            kind = "not_json"
        return Result(marker, r.status_code, kind, r.headers.get("x-hub-replica"))

    def stream(self, prefix: str, seconds: float, callers: int = 4) -> list[Result]:
        """``callers`` threads calling back to back for ``seconds``."""
        deadline = time.monotonic() + seconds

        def one_caller(n: int) -> list[Result]:
            out = []
            while time.monotonic() < deadline:
                out.append(self.call(self.marker(f"{prefix}{n}")))
            return out

        with ThreadPoolExecutor(callers) as pool:
            return [r for rs in pool.map(one_caller, range(callers)) for r in rs]

    def received(self) -> Counter[str]:
        """How many times the sandbox's Twilio got each message body."""
        r = httpx.get(f"{self.stack.sandbox_url}/__sandbox/requests?vendor=twilio", timeout=10)
        bodies = [parse_qs(q["body"]).get("Body", [""])[0] for q in r.json()["requests"]]
        return Counter(bodies)

    def runs(self) -> dict[str, str]:
        """idempotency key -> run status, for this tenant."""
        with self.rt.db.engine.connect() as c:
            rows = c.execute(
                text("SELECT idempotency_key, status FROM runs WHERE tenant_id = :t"),
                {"t": self.tenant.id},
            ).all()
        return {k: s for k, s in rows if k}

    def wait_ok(self, prefix: str, timeout: float = 120, via: str | None = None) -> float:
        """Call until one succeeds; the seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.call(self.marker(prefix), via=via, timeout=30).kind == "succeeded":
                return time.monotonic() - t0
            time.sleep(0.5)
        raise AssertionError(f"no call succeeded within {timeout} s")

    def wait_balanced(self, timeout: float = 60) -> None:
        """Until the load balancer sends to both replicas again: its health checks need two
        passes (rise 2) after a replica comes back, so a replica that answers directly may still
        be out of the balancer's rotation for a few seconds."""
        seen: set[str] = set()
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            r = httpx.get(f"{self.stack.url}/healthz", timeout=10)
            seen.add(r.headers.get("x-hub-replica", ""))
            if {"hub-1", "hub-2"} <= seen:
                return
            time.sleep(0.2)
        raise AssertionError(f"the balancer sent only to {seen} within {timeout} s")


def check_ledger(results: list[Result], received: Counter[str]) -> dict[str, int]:
    """Nothing lost, nothing doubled, nobody told "nothing was sent" when it was."""
    mine = {r.marker for r in results}
    doubled = {m: n for m, n in received.items() if m in mine and n > 1}
    assert not doubled, f"the vendor got these twice: {doubled}"
    lost = [r.marker for r in results if r.kind == "succeeded" and received[r.marker] != 1]
    assert not lost, f"told succeeded, never reached the vendor: {lost}"
    wrong = [r for r in results if received[r.marker] and r.kind in NOTHING_SENT]
    assert not wrong, f"told nothing was sent, but the vendor got it: {wrong}"
    return Counter(str(r.kind) for r in results)


def stack_cmd(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """What `scripts/stack ARGS` runs, in this test's environment (the script only adds
    finding uv and syncing the environment, which this process already has)."""
    return subprocess.run(
        [sys.executable, "-m", "hub.stack", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    folder = tmp_path_factory.mktemp("stack")
    # Not the stack's: must survive `down`. It sleeps forever: a timed one could end by itself
    # on a slow run and look stopped.
    bystander = subprocess.Popen(["sleep", "infinity"])
    up = stack_cmd(
        "up",
        "--dir",
        str(folder),
        "--private-postgres",
        "--hub-env",
        f"HUB_RUN_TIMEOUT_S={RUN_TIMEOUT_S}",
        "--hub-env",
        f"HUB_SCHEDULER_INTERVAL_S={SCHEDULER_INTERVAL_S}",
    )
    if up.returncode != 0:
        stack_cmd("down", "--dir", str(folder))
        bystander.kill()
        pytest.fail(f"scripts/stack up failed:\n{up.stdout}\n{up.stderr[-4000:]}", pytrace=False)
    stack = Stack.load(folder)
    rt = open_runtime(
        Settings(
            mode="production",
            data_dir=folder / "test",
            database_url=stack.hub_database_url,
            master_key_file=stack.master_key_file,
            scheduler_enabled=False,
        )
    )
    try:
        tenant = create_tenant_kit(rt, "topo")
        r = httpx.post(
            f"{stack.url}/api/connections",
            json={
                "integration": "twilio",
                "credentials": twilio_credentials(),
                "base_url": f"{stack.sandbox_url}/twilio",
            },
            headers=tenant.h("admin"),
            timeout=30,
        )
        assert r.status_code == 201, r.text
        topo = Topology(stack, rt, tenant)
        topo.wait_ok("warm", timeout=120)
        yield topo
    finally:
        rt.close()
        stack = Stack.load(folder)  # tests restarted parts: the newest records
        procs = []
        for d in stack.daemons.values():
            p = d.process()
            if p is not None:
                procs += [p, *p.children(recursive=True)]
        down = stack_cmd("down", "--dir", str(folder), timeout=180)
        _, alive = psutil.wait_procs(procs, timeout=20)
        left = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        for p in left:
            p.kill()
        still = bystander.poll() is None
        bystander.kill()
        assert down.returncode == 0, down.stderr
        assert not left, f"scripts/stack down left: {[(p.pid, p.name()) for p in left]}"
        assert still, "scripts/stack down stopped a process it had not started"


def pids_of(topo: Topology) -> dict[str, Any]:
    """name -> pid of every running stack part."""
    return {n: d.pid for n, d, alive in topo.stack.running() if alive}
