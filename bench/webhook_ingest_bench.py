"""Inbound webhook ingest: Stripe-signed events verified and stored by `hub serve`, under wrk.

Every request is a distinct, freshly signed Stripe event (ids and signatures made before the
run with stripe-python's own signer), so each one is verified, inserted and acknowledged, and
the delivery worker drains them meanwhile (no Stripe handler workflow: delivery is the hub's
own). The same requests go to a zero-work endpoint (bench.zero_work) in the same run: the
ratio is what verification and storage cost against a server that does nothing.
Run: uv run python -m bench.webhook_ingest_bench [rounds] [seconds] [connections] [backends]
(backends: comma-separated, `sqlite,postgres` by default)
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from stripe import WebhookSignature

from bench import wrk
from bench.load import free_port, wait_ready
from hub.accounts import service as accounts
from hub.connections import service as connections
from hub.core.settings import Settings
from hub.runtime import open_runtime
from hub.webhooks import service as webhooks

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LUA = """
local reqs = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\\t")
    local sig, body = line:sub(1, tab - 1), line:sub(tab + 1)
    reqs[#reqs + 1] = wrk.format("POST", args[2], {
      ["Content-Type"] = "application/json", ["Stripe-Signature"] = sig }, body)
  end
end
request = function()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
"""


def signed_events(n: int, secret: str) -> list[str]:
    """n distinct Stripe events, each `signature TAB body`, signed now."""
    now = int(time.time())
    out = []
    for _ in range(n):
        body = json.dumps(
            {
                "id": "evt_" + secrets.token_hex(12),
                "object": "event",
                "type": "payment_intent.succeeded",
                "data": {"object": {"id": "pi_" + secrets.token_hex(8), "amount": 4200}},
            }
        )
        sig = WebhookSignature.generate_signature_header(body, secret, timestamp=now)
        out.append(f"{sig}\t{body}")
    return out


def database(backend: str, d: Path) -> tuple[str, object]:
    """A fresh database URL for the backend and a function dropping it."""
    if backend == "sqlite":
        return f"sqlite:///{d}/hub.db", lambda: None
    name = f"hub_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=:n"),
                {"n": name},
            )
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def prepare(backend: str, d: Path, port: int) -> tuple[dict[str, str], str, str, object]:
    """A hub with one tenant and a Stripe connection: (env, webhook path, secret, drop)."""
    url, drop = database(backend, d)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    secret = "whsec_" + secrets.token_hex(16)
    env = {
        "HUB_DATA_DIR": str(d),
        "HUB_DATABASE_URL": url,
        "HUB_MASTER_KEY": key,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_SCHEDULER_ENABLED": "false",
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    rt = open_runtime(
        Settings(data_dir=d, database_url=url, master_key=key, port=port, public_url=None)
    )
    with rt.db.session() as s:
        t = accounts.create_tenant(s, f"bench-{secrets.token_hex(3)}")
        conn = connections.create_connection(
            s,
            rt.vault,
            t.id,
            "bench",
            integration="stripe",
            credentials={"secret_key": "sk_test_" + "0" * 24, "webhook_signing_secret": secret},
        )
        s.flush()
        hook = webhooks.webhook_url_for(s, f"http://127.0.0.1:{port}", t.id, conn.id)
    rt.close()
    assert hook is not None
    return env, "/" + hook.split("/", 3)[3], secret, drop


def stored(env: dict[str, str]) -> tuple[int, int]:
    """(events stored, of which delivered) in the hub's database."""
    url = env["HUB_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    eng = sa.create_engine(url)
    with eng.connect() as c:
        total = c.execute(sa.text("SELECT count(*) FROM webhook_events")).scalar() or 0
        done = (
            c.execute(
                sa.text("SELECT count(*) FROM webhook_events WHERE status = 'delivered'")
            ).scalar()
            or 0
        )
    eng.dispose()
    return int(total), int(done)


def run_wrk(base: str, path: str, events: Path, connections_: int, seconds: int) -> dict:
    """wrk over the pre-signed events; requests/s, median and p99 ms, non-2xx count."""
    with tempfile.TemporaryDirectory() as t:
        script = Path(t) / "ingest.lua"
        script.write_text(LUA)
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections_}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                base,
                "--",
                str(events),
                path,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rps is None or total is None or "50" not in pct:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return {
        "rps": float(rps.group(1)),
        "median_ms": wrk._ms(pct["50"]),
        "p99_ms": wrk._ms(pct["99"]),
        "requests": int(total.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
    }


def main(
    rounds: int = 3, seconds: int = 8, conns: int = 32, backends: str = "sqlite,postgres"
) -> None:
    """Measure both backends and print a Markdown table."""
    if not wrk.available():
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    rows = []
    for backend in backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            hport, zport = free_port(), free_port()
            env, path, secret, drop = prepare(backend, d, hport)
            events = d / "events.tsv"
            procs = [
                subprocess.Popen([sys.executable, "-m", "bench.zero_work", str(zport)]),
                subprocess.Popen(
                    [sys.executable, "-m", "hub", "serve", "--port", str(hport)],
                    env={**os.environ, **env},
                ),
            ]
            try:
                wait_ready(f"http://127.0.0.1:{zport}", timeout=180)
                wait_ready(f"http://127.0.0.1:{hport}/healthz", timeout=180)
                zero, hub = [], []
                for _ in range(rounds):
                    # Signed just before use (Stripe's 300 s window), enough that none repeats
                    # within a round: each request is verified and stored once.
                    events.write_text("\n".join(signed_events(6_000 * seconds, secret)) + "\n")
                    zero.append(run_wrk(f"http://127.0.0.1:{zport}", path, events, conns, seconds))
                    hub.append(run_wrk(f"http://127.0.0.1:{hport}", path, events, conns, seconds))
                time.sleep(3)  # let the worker drain
                total, done = stored(env)
            finally:
                for p in procs:
                    p.terminate()
                    p.wait(20)
                drop()  # type: ignore[operator]
        best = lambda rs, k: sorted(r[k] for r in rs)[len(rs) // 2]  # noqa: E731 (median)
        acked = sum(r["requests"] - r["non_2xx"] for r in hub)
        rows.append(
            {
                "backend": backend,
                "zero_rps": best(zero, "rps"),
                "zero_p99": best(zero, "p99_ms"),
                "hub_rps": best(hub, "rps"),
                "hub_median": best(hub, "median_ms"),
                "hub_p99": best(hub, "p99_ms"),
                "non_2xx": sum(r["non_2xx"] for r in hub),
                "acked": acked,
                "stored": total,
                "delivered": done,
            }
        )
    print(
        "| backend | zero-work req/s | zero-work p99 | ingest events/s | ratio | "
        "ack median | ack p99 | non-2xx | acked | stored | delivered |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['zero_rps']:,.0f} | {r['zero_p99']:.1f} ms | "
            f"{r['hub_rps']:,.0f} | {r['hub_rps'] / r['zero_rps']:.2f} | "
            f"{r['hub_median']:.1f} ms | {r['hub_p99']:.1f} ms | {r['non_2xx']} | "
            f"{r['acked']:,} | {r['stored']:,} | {r['delivered']:,} |"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]), *sys.argv[4:5])
