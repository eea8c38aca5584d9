"""The webhook hop's two clients against a real n8n: the hand-written one vs httpx.

Run: .venv/bin/python -m bench.invoker_bench [ROUNDS] [CALLS]   (defaults: 5 rounds, 200 calls)

Starts its own n8n (the project's install, legacy expression engine as `hub up` runs it), the
vendor sandbox (Twilio's Prism mock and the recording proxy, in a child process so this
process runs only the clients), and `hub serve` on SQLite (the edge the real workflow redeems
its grant at); everything listens on 127.0.0.1 and is stopped at the end. Two workloads:

* ``echo``: a deployed Webhook -> Respond workflow behind the hub's header auth, the least
  work n8n does for a webhook call (the client's share of a call is largest here);
* ``send_sms``: the real twilio/send_sms workflow: edge grant redeemed at the hub, the call
  to the sandbox's Twilio, the mapped answer (what a tool call costs in n8n).

Both clients (the hub's hand-written one, `hub.n8n.invoke`, and an httpx one behind the same
Hop contract, kept below) run in this process on uvloop (as uvicorn runs the hub), one call
at a time on a kept-alive connection, in alternating rounds (the order flips every round)
after a warm-up, so both see the same machine. Per call: wall time (perf_counter) and this
process's CPU time (process_time) around ``hop.post``. Every answer is checked ({"ok": true}).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvloop

from bench.load import free_port, wait_ready
from bench.stats import percentile
from hub.core.hop import Hop, NotSent, OutcomeUnknown
from hub.core.keepalive import CONNECT_TIMEOUT_S, MAX_ANSWER_BYTES
from hub.n8n.invoke import (
    KEEPALIVE_S,
    SAFE_PATH,
    WEBHOOK_AUTH_HEADER,
    WebhookInvoker,
    answer,
)

ECHO_PATH = "hub/bench/echo/v1"
SMS_PATH = "hub/twilio/send_sms/v1"
WARMUP = 30
VARIANTS = ("hand-written", "httpx")


def make_hop(variant: str, url: str, secret: str) -> Hop:
    """The client under test: the hub's (hand-written) or the httpx one below."""
    cls = WebhookInvoker if variant == "hand-written" else HttpxInvoker
    return cls(url, secret, timeout_s=30.0)


# --------------------------------------------------------------------------- the httpx hop
# The library client the hub's hand-written one was measured against (bench/RESULTS.md, "The
# webhook hop"), kept here so the comparison can be re-run: httpx.AsyncClient keep-alive pool
# with the same Hop contract and answer mapping (hub.n8n.invoke.answer).


class HttpxInvoker:
    """POSTs run bodies to n8n webhooks over an httpx keep-alive pool."""

    def __init__(self, base_url: str, webhook_secret: str, *, timeout_s: float = 60.0) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the n8n URL must be http(s)://host[:port][/path]")
        if "\r" in webhook_secret or "\n" in webhook_secret:
            raise ValueError("the webhook secret must be a single line")
        self.base_url = base_url.rstrip("/")
        self._webhooks = f"{self.base_url}/webhook/"
        self._headers = {
            "Content-Type": "application/json",
            WEBHOOK_AUTH_HEADER: webhook_secret,
            "Accept-Encoding": "identity",  # nothing to gain from compression on this hop
        }
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client_for_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # Connections belong to the loop that made them (tests run apps on several loops);
            # a client left on another loop is dropped with it.
            self._client = httpx.AsyncClient(
                headers=self._headers,
                trust_env=False,  # no proxy or .netrc from the environment on this hop
                follow_redirects=False,
                limits=httpx.Limits(
                    max_connections=None,
                    max_keepalive_connections=64,
                    keepalive_expiry=KEEPALIVE_S,
                ),
            )
            self._loop = loop
        return self._client

    async def post(
        self, path: str, body: dict[str, Any], timeout_s: float | None = None
    ) -> dict[str, Any]:
        """POST the body to /webhook/<path>; returns the workflow's JSON answer."""
        if not SAFE_PATH.fullmatch(path):
            raise NotSent(f"refusing webhook path {path!r}: it must be hub/<integration>/...")
        payload = json.dumps(body).encode()
        client = self._client_for_loop()
        answer_s = timeout_s or self.timeout_s
        # Connecting has its own bound (a connect that fails or times out is NotSent); the
        # answer then has answer_s, per read and as a whole.
        timeout = httpx.Timeout(answer_s, connect=CONNECT_TIMEOUT_S, pool=CONNECT_TIMEOUT_S)
        try:
            async with (
                asyncio.timeout(CONNECT_TIMEOUT_S + answer_s),
                client.stream(
                    "POST", self._webhooks + path, content=payload, timeout=timeout
                ) as resp,
            ):
                if int(resp.headers.get("content-length") or 0) > MAX_ANSWER_BYTES:
                    raise OutcomeUnknown("no answer from n8n (an answer over 16 MiB)")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise OutcomeUnknown("no answer from n8n (an answer over 16 MiB)")
                    chunks.append(chunk)
                status = resp.status_code
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(
                f"n8n is not reachable at {self.base_url} ({type(exc).__name__})"
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise OutcomeUnknown("no answer from n8n (timed out)") from None
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"no answer from n8n ({type(exc).__name__}: {exc})") from None
        return answer(status, b"".join(chunks), path)

    async def aclose(self) -> None:
        """Close the pool's connections (those of the running loop; others go with theirs)."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()


def sandbox_child() -> None:
    """`--sandbox`: run the Twilio sandbox until stdin closes (the parent ended)."""
    from hub.n8n.install import ensure_prism
    from hub.sandbox.runner import Sandbox

    sb = Sandbox(ensure_prism(progress=False), 0, vendors=["twilio"], die_with_parent=True)
    sb.start()
    try:
        print(json.dumps({"twilio": sb.base_url("twilio")}), flush=True)
        sys.stdin.read()
    finally:
        sb.stop()


@dataclass
class ChildSandbox:
    """The sandbox in a child process (its proxy would otherwise share this process's CPU)."""

    proc: subprocess.Popen[str]
    urls: dict[str, str]

    def base_url(self, vendor: str) -> str:
        return self.urls[vendor]

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(10)


def start_sandbox() -> ChildSandbox:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.invoker_bench", "--sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise RuntimeError("the sandbox child did not start")
    return ChildSandbox(proc, json.loads(line))


def echo_workflow(cred_id: str) -> dict[str, Any]:
    """Webhook (the hub's header auth) -> Respond {ok: true, data: {run_id}}."""
    return {
        "name": "bench-echo",
        "nodes": [
            {
                "id": str(uuid.uuid4()),
                "name": "Webhook",
                "type": "n8n-nodes-base.webhook",
                "typeVersion": 2.1,
                "position": [0, 0],
                "webhookId": str(uuid.uuid4()),
                "parameters": {
                    "httpMethod": "POST",
                    "path": ECHO_PATH,
                    "authentication": "headerAuth",
                    "responseMode": "responseNode",
                    "options": {},
                },
                "credentials": {"httpHeaderAuth": {"id": cred_id, "name": "hub webhook auth"}},
            },
            {
                "id": str(uuid.uuid4()),
                "name": "Respond",
                "type": "n8n-nodes-base.respondToWebhook",
                "typeVersion": 1.5,
                "position": [300, 0],
                "parameters": {
                    "respondWith": "json",
                    "responseBody": (
                        "={{ JSON.stringify({ ok: true, data: { run_id: $json.body.run_id } }) }}"
                    ),
                    "options": {},
                },
            },
        ],
        "connections": {"Webhook": {"main": [[{"node": "Respond", "type": "main", "index": 0}]]}},
        "settings": {
            "executionOrder": "v1",
            "saveDataSuccessExecution": "none",
            "saveDataErrorExecution": "none",
            "saveManualExecutions": False,
            "saveExecutionProgress": False,
        },
    }


@dataclass
class Stack:
    n8n_url: str
    secret: str
    env: dict[str, str]


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """n8n + sandbox + `hub serve` with every workflow and the echo workflow deployed."""
    from bench.mcp_bench import prepare
    from hub.core.settings import Settings
    from hub.n8n.client import N8nClient
    from hub.n8n.install import ensure_n8n
    from hub.n8n.instance import get_instance, secret_of
    from hub.n8n.local import LocalN8n
    from hub.n8n.provision import provision_owner_and_key
    from hub.runtime import open_runtime

    install = ensure_n8n(progress=False)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stop:
        d = Path(tmp)
        n8n = LocalN8n(
            install,
            d / "n8n",
            free_port(pair=True),
            encryption_key=secrets.token_hex(16),
            die_with_parent=True,
        )
        n8n.start()
        stop.callback(n8n.stop)
        sandbox = start_sandbox()
        stop.callback(sandbox.stop)
        key = provision_owner_and_key(n8n.url, "bench@hub.test", "Bench-Passw0rd-1")
        port = free_port()
        env, _ = prepare(d, port, n8n.url, key, sandbox)
        hub = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )

        def stop_hub() -> None:
            hub.terminate()
            hub.wait(15)

        stop.callback(stop_hub)
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        rt = open_runtime(
            Settings(
                data_dir=d,
                master_key=env["HUB_MASTER_KEY"],
                database_url=env["HUB_DATABASE_URL"],
            ),
            sync_registry=False,
        )
        try:
            with rt.db.session() as s:
                inst = get_instance(s)
                assert inst is not None and inst.webhook_auth_n8n_id
                secret = secret_of(s, rt.vault, inst.webhook_secret_credential_id, "secret")
                cred_id = inst.webhook_auth_n8n_id
        finally:
            rt.close()
        assert secret
        with N8nClient(n8n.url, key) as client:
            wf = client.create_workflow(echo_workflow(cred_id))
            client.publish(wf["id"])
        yield Stack(n8n.url, secret, env)


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


async def calls(hop: Hop, path: str, bodies: list[dict[str, Any]], into: Sample | None) -> None:
    """The bodies one after another; each call's wall and CPU seconds go into `into`."""
    wall, cpu = time.perf_counter, time.process_time
    for body in bodies:
        t, c = wall(), cpu()
        got = await hop.post(path, body)
        dc, dt = cpu() - c, wall() - t
        if got.get("ok") is not True:
            raise RuntimeError(f"{path} answered {got}")
        if into is not None:
            into.wall.append(dt)
            into.cpu.append(dc)


def echo_bodies(n: int) -> list[dict[str, Any]]:
    """Bodies shaped like the hub's (run id, tool, args, grant...), for the echo workflow."""
    from bench.n8n_vs_hub_bench import ARGS

    return [
        {
            "run_id": f"run_{secrets.token_hex(8)}",
            "tenant_id": "ten_bench",
            "tool": "send_sms",
            "args": ARGS,
            "grant": "gr_" + secrets.token_urlsafe(32),
            "idempotency_key": f"run_{i}",
            "edge_url": "http://127.0.0.1:1/edge/credentials",
        }
        for i in range(n)
    ]


def sms_bodies(env: dict[str, str]) -> Callable[[int], list[dict[str, Any]]]:
    """Real send_sms bodies: a run and a fresh single-use grant each (grants live 60 s)."""
    from bench.n8n_vs_hub_bench import direct_bodies

    return lambda n: direct_bodies(env, n)[0]


async def measure(
    st: Stack, path: str, bodies: Callable[[int], list[dict[str, Any]]], rounds: int, n: int
) -> list[dict[str, Sample]]:
    """Alternating rounds; returns, per round, each variant's samples."""
    hops = {v: make_hop(v, st.n8n_url, st.secret) for v in VARIANTS}
    try:
        warm = bodies(2 * WARMUP)
        for i, v in enumerate(VARIANTS):
            await calls(hops[v], path, warm[i * WARMUP : (i + 1) * WARMUP], None)
        out = []
        for r in range(rounds):
            order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
            fresh = bodies(2 * n)  # minted per round: send_sms grants expire after 60 s
            got = {v: Sample() for v in VARIANTS}
            for i, v in enumerate(order):
                gc.collect()
                await calls(hops[v], path, fresh[i * n : (i + 1) * n], got[v])
            out.append(got)
            load = os.getloadavg()[0]
            print(f"  {path}: round {r + 1}/{rounds} done (load {load:.1f})", file=sys.stderr)
        return out
    finally:
        for hop in hops.values():
            await hop.aclose()


# --------------------------------------------------------------------------- reporting


def ms(x: float) -> str:
    return f"{x * 1000:.2f}"


def report(workload: str, rounds: list[dict[str, Sample]]) -> dict[str, Any]:
    """Print one workload's tables; returns its summary."""
    print(f"\n### {workload}\n")
    print(
        "| round | hand-written median | p99 | CPU/call | httpx median | p99 | CPU/call "
        "| ratio median (hand/httpx) | ratio CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ratios, cpu_ratios = [], []
    for i, got in enumerate(rounds):
        h, x = got["hand-written"], got["httpx"]
        ratio = statistics.median(h.wall) / statistics.median(x.wall)
        cpu_ratio = statistics.fmean(h.cpu) / statistics.fmean(x.cpu)
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        print(
            f"| {i + 1} | {ms(statistics.median(h.wall))} | {ms(percentile(h.wall, 99))} "
            f"| {ms(statistics.fmean(h.cpu))} | {ms(statistics.median(x.wall))} "
            f"| {ms(percentile(x.wall, 99))} | {ms(statistics.fmean(x.cpu))} "
            f"| {ratio:.3f} | {cpu_ratio:.3f} |"
        )
    pooled = {v: Sample() for v in VARIANTS}
    round_medians: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for got in rounds:
        for v in VARIANTS:
            pooled[v].wall += got[v].wall
            pooled[v].cpu += got[v].cpu
            round_medians[v].append(statistics.median(got[v].wall))
    med = {v: statistics.median(pooled[v].wall) for v in VARIANTS}
    cpu = {v: statistics.fmean(pooled[v].cpu) for v in VARIANTS}
    ratio = med["hand-written"] / med["httpx"]
    print(
        f"| all | {ms(med['hand-written'])} | {ms(percentile(pooled['hand-written'].wall, 99))} "
        f"| {ms(cpu['hand-written'])} | {ms(med['httpx'])} "
        f"| {ms(percentile(pooled['httpx'].wall, 99))} | {ms(cpu['httpx'])} "
        f"| {ratio:.3f} | {cpu['hand-written'] / cpu['httpx']:.3f} |"
    )
    # Noise: the rounds alternate, so the machine's drift moves both variants of a round
    # together and cancels in that round's ratio; the noise of the comparison is how far the
    # per-round ratios spread. The advantage is outside it when no round crosses 1.
    drift = {v: (max(round_medians[v]) - min(round_medians[v])) / med[v] for v in VARIANTS}
    faster = sum(r < 1 for r in ratios)
    outside = max(ratios) < 1 or min(ratios) > 1
    print(
        f"\nper-round ratios {min(ratios):.3f}-{max(ratios):.3f} (median "
        f"{statistics.median(ratios):.3f}); hand-written faster in {faster} of {len(ratios)} "
        f"rounds; round medians drifted: hand-written "
        f"{ms(min(round_medians['hand-written']))}-{ms(max(round_medians['hand-written']))} ms "
        f"({drift['hand-written'] * 100:.0f} %), httpx {ms(min(round_medians['httpx']))}-"
        f"{ms(max(round_medians['httpx']))} ms ({drift['httpx'] * 100:.0f} %)"
    )
    print(
        f"hand-written vs httpx: {(1 - ratio) * 100:+.1f} % at the median "
        f"({(med['httpx'] - med['hand-written']) * 1000:+.2f} ms), CPU per call "
        f"{ms(cpu['hand-written'])} vs {ms(cpu['httpx'])} ms "
        f"({(cpu['httpx'] - cpu['hand-written']) * 1000:+.2f} ms) -> "
        + ("OUTSIDE the round-to-round noise" if outside else "within the round-to-round noise")
    )
    return {"workload": workload, "ratio": ratio, "outside": outside and ratio < 1}


def main(rounds: int = 5, n: int = 200) -> None:
    with stack() as st:
        print(
            f"n8n at {st.n8n_url}, {rounds} rounds x {n} calls per variant, "
            f"{WARMUP} warm-up calls each, uvloop",
            file=sys.stderr,
        )
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        with runner:
            echo = runner.run(measure(st, ECHO_PATH, echo_bodies, rounds, n))
            sms = runner.run(measure(st, SMS_PATH, sms_bodies(st.env), rounds, n))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    results = [report("echo (Webhook -> Respond)", echo), report("send_sms (real workflow)", sms)]
    keep = "hand-written" if all(r["outside"] for r in results) else "httpx"
    print(f"\ndecision: keep the {keep} client")


if __name__ == "__main__":
    if sys.argv[1:] == ["--sandbox"]:
        sandbox_child()
    else:
        args = [int(a) for a in sys.argv[1:3]]
        main(*args)
