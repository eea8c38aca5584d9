"""50 concurrent credential redemptions on a connection whose OAuth token just expired, against
the same 50 on a fresh token, in one run (issue 10, item 9).

`uv run python -m bench.refresh_bench [rounds]`: a hub on SQLite (in-process, its ASGI app),
the sandbox's real authorization server (oidc-provider), Google Calendar connected through
the real consent flow. Each round mints 50 grants and redeems them at /edge/credentials at
once, first on a fresh token (no refresh), then with the stored token expired (one refresh
for all 50). Prints token-endpoint calls per batch, median and p99 of each redemption, and
the ratio expired/fresh.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from bench.stats import percentile
from hub.app import create_app
from hub.runtime import open_runtime
from tests.conftest import create_tenant_kit, make_settings
from tests.connections.oauth_kit import (
    connect_via_flow,
    expire_now,
    register_apps,
    start_auth_server,
)
from tests.connections.test_oauth_refresh import _grants

N = 50
CALLBACK = "http://127.0.0.1:8000/oauth/callback"


async def _batch(app, pairs) -> list[float]:  # type: ignore[no-untyped-def]
    """Redeem every grant at once; each redemption's duration in seconds."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:

        async def one(run_id: str, grant: str) -> float:
            t = time.perf_counter()
            r = await c.post("/edge/credentials", json={"grant": grant, "run_id": run_id})
            assert r.status_code == 200, r.text
            return time.perf_counter() - t

        return list(await asyncio.gather(*(one(r, g) for r, g in pairs)))


def main(rounds: int = 5) -> None:
    """Run `rounds` pairs of batches and print the table rows."""
    tmp = Path(tempfile.mkdtemp(prefix="refresh-bench-"))
    rt = open_runtime(make_settings(tmp, f"sqlite:///{tmp / 'hub.db'}"))
    server = start_auth_server([CALLBACK], access_ttl=3600)
    try:
        register_apps(rt, server)
        app = create_app(runtime=rt)
        tenant = create_tenant_kit(rt, "bench")
        with TestClient(app) as client:
            conn = connect_via_flow(client, tenant, "google_calendar", "b@example.test", CALLBACK)
            fresh: list[float] = []
            expired: list[float] = []
            calls = {"fresh": 0, "expired": 0}
            asyncio.run(_batch(app, _grants(rt, tenant.id, conn, N)))  # warm-up
            for _ in range(rounds):
                before = server.counts()["token"]
                fresh += asyncio.run(_batch(app, _grants(rt, tenant.id, conn, N)))
                calls["fresh"] += server.counts()["token"] - before
                expire_now(rt, tenant.id, conn)
                before = server.counts()["token"]
                expired += asyncio.run(_batch(app, _grants(rt, tenant.id, conn, N)))
                calls["expired"] += server.counts()["token"] - before
        rows = [
            ("fresh token", fresh, calls["fresh"]),
            ("token just expired", expired, calls["expired"]),
        ]
        print(f"| batch ({N} concurrent, {rounds} rounds) | token calls per batch | median | p99 |")
        print("|---|---|---|---|")
        for name, xs, n in rows:
            print(
                f"| {name} | {n / rounds:g} | {statistics.median(xs) * 1000:.1f} ms "
                f"| {percentile(xs, 99) * 1000:.1f} ms |"
            )
        ratio_med = statistics.median(expired) / statistics.median(fresh)
        ratio_p99 = percentile(expired, 99) / percentile(fresh, 99)
        print(f"\nexpired / fresh: median {ratio_med:.2f}x, p99 {ratio_p99:.2f}x")
    finally:
        server.stop()
        rt.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
