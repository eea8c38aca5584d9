"""A hub process of its own for the cross-process single-flight test (SECURITY 16): it opens
the runtime on the shared database, waits for the go signal, then makes N concurrent
redemptions of one connection's token and prints their SHA-256 (never the tokens)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path

import hub.schema  # noqa: F401 - every model, so the ORM resolves foreign keys
from hub.core.settings import Settings
from hub.runtime import open_runtime


async def _redeem(rt, tenant_id: str, connection_id: str, n: int) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    refresher = rt.calls.refresher
    return list(
        await asyncio.gather(*(refresher.current(tenant_id, connection_id) for _ in range(n)))
    )


def main() -> None:
    """argv[1]: JSON with settings, tenant, connection, n, and the ready/go file paths."""
    cfg = json.loads(sys.argv[1])
    rt = open_runtime(Settings(**cfg["settings"]), migrate=False, sync_registry=False)
    try:
        Path(cfg["ready"]).touch()
        go = Path(cfg["go"])
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        got = asyncio.run(_redeem(rt, cfg["tenant"], cfg["connection"], cfg["n"]))
        print(json.dumps([hashlib.sha256(f["access_token"].encode()).hexdigest() for f in got]))
    finally:
        rt.close()


if __name__ == "__main__":
    main()
