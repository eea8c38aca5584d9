"""A direct POST to the n8n webhook vs the same send_sms through the hub, per expression engine.

Run: uv run python -m bench.n8n_vs_hub_bench [N]  (N calls per path, in 5 alternating rounds)
Real n8n (installed by the project), the vendor sandbox (Prism + proxy) and `hub serve` on
SQLite. The direct path gets what the hub would send: a run, a freshly minted single-use grant
and the webhook credential header, so both paths do the same work in n8n (edge lookup at the
hub, the vendor call, the response); the hub path adds auth, validation, routing and records.
With HUB_BENCH_BASELINE_TREE set (bench/ab.py) a second hub from that commit runs on the same
database and takes its turn in every round.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.ab import builds
from bench.load import concurrent, free_port, latencies, latency_summary, wait_ready
from bench.mcp_bench import prepare
from bench.stats import print_rows

ARGS = {"to": "+15551234567", "body": "Your window cleaning is tomorrow at 9"}
ROUNDS = 5


def direct_bodies(env: dict[str, str], n: int) -> tuple[list[dict], str, str]:
    """n webhook bodies with fresh runs and grants, the webhook secret and the tenant id."""
    from hub.accounts.models import Tenant
    from hub.connections.models import Connection
    from hub.core.settings import Settings
    from hub.n8n.instance import get_instance, secret_of
    from hub.runs import grants
    from hub.runs.models import Run
    from hub.runtime import open_runtime

    rt = open_runtime(
        Settings(
            data_dir=Path(env["HUB_DATA_DIR"]),
            master_key=env["HUB_MASTER_KEY"],
            database_url=env["HUB_DATABASE_URL"],
        ),
        sync_registry=False,
    )
    out = []
    with rt.db.session() as s:
        tenant = s.query(Tenant).one()
        conn = s.query(Connection).one()
        secret = secret_of(s, rt.vault, get_instance(s).webhook_secret_credential_id, "secret")
        for _ in range(n):
            run = Run(
                tenant_id=tenant.id,
                caller="bench",
                tool="send_sms",
                args=ARGS,
                args_hash="0" * 64,
                status="sent",
                provider="twilio",
                connection_id=conn.id,
                workflow_version=1,
            )
            s.add(run)
            s.flush()
            out.append(
                {
                    "run_id": run.id,
                    "tenant_id": tenant.id,
                    "tool": "send_sms",
                    "args": ARGS,
                    "grant": grants.mint(s, tenant.id, run.id, conn.id),
                    "idempotency_key": run.id,
                    "edge_url": env["HUB_PUBLIC_URL"] + "/edge/credentials",
                }
            )
    rt.close()
    return out, secret, tenant.id


def one_engine(engine: str, n: int, install, prism) -> list[dict]:  # type: ignore[no-untyped-def]
    """Measure both paths with n8n running the given expression engine."""
    from hub.n8n.invoke import WEBHOOK_AUTH_HEADER
    from hub.n8n.local import LocalN8n
    from hub.n8n.provision import provision_owner_and_key
    from hub.sandbox import Sandbox

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        n8n = LocalN8n(
            install,
            d / "n8n",
            free_port(pair=True),
            expression_engine=engine,
            encryption_key=secrets.token_hex(16),
            die_with_parent=True,
        )
        n8n.start()
        sandbox = Sandbox(prism, 0, die_with_parent=True).start()
        hubs: list[tuple[str, subprocess.Popen[bytes], str]] = []
        try:
            key = provision_owner_and_key(n8n.url, "bench@hub.test", "Bench-Passw0rd-1")
            port = free_port()
            env, token = prepare(d, port, n8n.url, key, sandbox)
            for build in builds():
                hport = port if not hubs else free_port()
                # Each hub hands n8n its own edge URL (where grants are redeemed).
                proc = build.serve(hport, {**env, "HUB_PUBLIC_URL": f"http://127.0.0.1:{hport}"})
                hubs.append((build.label, proc, f"http://127.0.0.1:{hport}"))
                wait_ready(f"http://127.0.0.1:{hport}/healthz")
            warm = 10
            bodies, secret, _ = direct_bodies(env, ROUNDS * warm + 2 * n)
            it = iter(bodies)
            webhook = f"{n8n.url}/webhook/hub/twilio/send_sms/v1"
            head = {WEBHOOK_AUTH_HEADER: secret}
            auth = {"Authorization": f"Bearer {token}"}
            # Alternating rounds: every path sees the same drift in the machine's speed.
            lat: dict[str, list[float]] = {"direct": [], **{label: [] for label, _, _ in hubs}}
            for _ in range(ROUNDS):
                chunk = n // ROUNDS
                lat["direct"] += latencies(webhook, lambda i: next(it), head, chunk, warmup=warm)
                for label, _, base in hubs:
                    url = f"{base}/api/tools/send_sms/call"
                    lat[label] += latencies(url, lambda i: {"args": ARGS}, auth, chunk, warmup=warm)
            results = {
                "direct": {
                    **latency_summary(lat["direct"]),
                    **concurrent(webhook, lambda i: next(it), head, n, workers=10),
                }
            }
            for label, _, base in hubs:
                url = f"{base}/api/tools/send_sms/call"
                results[label] = {
                    **latency_summary(lat[label]),
                    **concurrent(url, lambda i: {"args": ARGS}, auth, n, workers=10),
                }
        finally:
            for _, proc, _ in hubs:
                proc.terminate()
                proc.wait(10)
            sandbox.stop()
            n8n.stop()
    direct = results["direct"]
    rows = [{"engine": engine, "path": "direct POST to the n8n webhook", **direct, "ratio": ""}]
    names = {"hub": "through the hub (REST)", "hub@baseline": "through the baseline hub"}
    for label in results:
        if label == "direct":
            continue
        ratio = results[label]["median_ms"] / direct["median_ms"]
        rows.append(
            {
                "engine": engine,
                "path": names[label],
                **results[label],
                "ratio": f"{ratio:.3f} (+{(ratio - 1) * 100:.1f}%)",
            }
        )
    if "hub@baseline" in results:
        new, old = results["hub"], results["hub@baseline"]
        print(
            f"{engine}: this tree / baseline median {new['median_ms'] / old['median_ms']:.3f}x, "
            f"added over direct {new['median_ms'] - direct['median_ms']:.2f} / "
            f"{old['median_ms'] - direct['median_ms']:.2f} ms"
        )
    return rows


def main(n: int = 200) -> None:
    """Both engines, one table."""
    from hub.n8n.install import ensure_n8n
    from hub.sandbox import ensure_prism

    install, prism = ensure_n8n(progress=False), ensure_prism(progress=False)
    rows = one_engine("legacy", n, install, prism) + one_engine("vm", n, install, prism)
    print_rows(rows)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
